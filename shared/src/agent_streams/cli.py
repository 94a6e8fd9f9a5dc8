"""``agent-streams``: submit tasks, follow them live, and look after the queues.

::

    agent-streams submit "Plot y = x^2 and save it as plot.png" --file data.csv --out out
    agent-streams follow SESSION
    agent-streams replay SESSION [--json]
    agent-streams cancel SESSION
    agent-streams status [--json]
    agent-streams dead-letters [list | show ID | retry ID]

Connection: ``--redis-url`` / ``--namespace``, else ``AGENT_STREAMS_REDIS_URL`` (or
``REDIS_URL``) and ``AGENT_STREAMS_NAMESPACE``, else ``redis://127.0.0.1:6379/0`` and ``agents``.

Exit status (``submit`` with ``--follow``, and ``follow``) is the task's ending; see ``ExitCode``.
Problems are one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Awaitable, Callable
from enum import IntEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from .client import AgentStreamsClient
from .exceptions import (
    AgentStreamsError,
    ArtifactError,
    QueueFullError,
    TaskRejectedError,
)
from .logging import configure_logging
from .messages import TaskResult
from .render import (
    EventPrinter,
    dead_letter_detail,
    dead_letters_table,
    render_event,
    status_tables,
)
from .session_log import ErrorEvent, SessionEvent
from .streams.settings import RuntimeSettings

__all__ = ["ExitCode", "app"]


class ExitCode(IntEnum):
    """Process exit status. 2 is left to usage errors (bad options), as Click uses it."""

    COMPLETED = 0
    FAILED = 1  # status failed or model_error, or the task was rejected as bad input
    USAGE = 2
    CANCELLED = 3
    DEADLINE = 4  # the task hit its own deadline (--timeout)
    MAX_TURNS = 5
    TIMEOUT = 6  # this client stopped waiting (--wait); the task may still be running
    CLIENT_ERROR = 7  # Redis unreachable, unknown session, unreadable file, ...
    QUEUE_FULL = 8  # retry later
    INTERRUPTED = 130  # Ctrl-C; the task goes on running


_BY_STATUS = {
    "completed": ExitCode.COMPLETED,
    "failed": ExitCode.FAILED,
    "model_error": ExitCode.FAILED,
    "cancelled": ExitCode.CANCELLED,
    "deadline": ExitCode.DEADLINE,
    "max_turns": ExitCode.MAX_TURNS,
}

app = typer.Typer(
    help="Submit tasks to agent-streams, follow them live, and inspect the queues.",
    epilog=(
        "Exit status of submit (following) and follow: 0 completed, 1 failed or rejected, "
        "3 cancelled, 4 deadline, 5 max turns, 6 stopped waiting (--wait), "
        "7 client error (Redis unreachable, unknown session...), 8 queue full, 130 Ctrl-C."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
dead_letters_app = typer.Typer(
    help="Entries given up on: list (default), show ID, retry ID.",
    invoke_without_command=True,
)
app.add_typer(dead_letters_app, name="dead-letters")


@dataclasses.dataclass(slots=True)
class _Options:
    redis_url: str | None
    namespace: str | None


@app.callback()
def _main(
    ctx: typer.Context,
    redis_url: Annotated[
        str | None,
        typer.Option(
            help="Redis URL (env AGENT_STREAMS_REDIS_URL or REDIS_URL)", show_default=False
        ),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="key namespace (env AGENT_STREAMS_NAMESPACE, default agents)")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log runtime details")] = False,
) -> None:
    configure_logging("INFO" if verbose else "WARNING", json=False)
    ctx.obj = _Options(redis_url, namespace)


def _fail(message: str, code: ExitCode) -> NoReturn:
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def _run(ctx: typer.Context, body: Callable[[AgentStreamsClient], Awaitable[int]]) -> NoReturn:
    """Run ``body`` with a connected client; map every expected failure to one line + a code."""
    opts: _Options = ctx.obj
    overrides = {
        k: v for k, v in (("redis_url", opts.redis_url), ("namespace", opts.namespace)) if v
    }
    try:
        settings = RuntimeSettings(**overrides)  # type: ignore[arg-type]
        client = AgentStreamsClient(settings)
    except (ValidationError, ValueError) as exc:
        _fail(str(exc).splitlines()[0], ExitCode.USAGE)

    async def main() -> int:
        async with client:
            return await body(client)

    try:
        code = asyncio.run(main())
    except TimeoutError as exc:
        _fail(str(exc), ExitCode.TIMEOUT)
    except QueueFullError as exc:
        _fail(str(exc), ExitCode.QUEUE_FULL)
    except TaskRejectedError as exc:
        _fail(str(exc), ExitCode.FAILED)
    except AgentStreamsError as exc:
        _fail(str(exc), ExitCode.CLIENT_ERROR)
    except KeyboardInterrupt:
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    raise typer.Exit(code)


async def _follow(
    client: AgentStreamsClient,
    session: str,
    *,
    out: Path,
    wait_s: float | None,
    from_start: bool = True,
    after: str | None = None,
) -> int:
    """Print the session as it happens, save its artifacts, return the exit code."""
    console = Console(highlight=False)
    printer = EventPrinter(console)
    final: SessionEvent | None = None
    try:
        async with asyncio.timeout(wait_s):
            events = client.follow(session, from_start=from_start, after=after)
            async with contextlib.aclosing(events) as stream:
                async for event in stream:
                    printer.show(event)
                    if event.is_final:
                        final = event
    except TimeoutError:
        raise TimeoutError(
            f"no result within {wait_s:g}s; session {session} may still be running: "
            f"`agent-streams follow {session}` or `agent-streams cancel {session}`"
        ) from None
    except asyncio.CancelledError:  # Ctrl-C: say how to get back to the task
        printer.close()
        Console(stderr=True).print(
            f"stopped following; session {session} goes on: `agent-streams follow {session}` "
            f"or `agent-streams cancel {session}`",
            highlight=False,
            soft_wrap=True,
        )
        raise
    finally:
        printer.close()
    result = final.message if final is not None else None
    if isinstance(result, ErrorEvent):
        raise TaskRejectedError(session, result.code, result.error)
    if not isinstance(result, TaskResult):  # follow only ends on a final event
        return ExitCode.FAILED
    if result.artifacts:
        try:
            paths = await client.save_artifacts(result, out, session=session)
        except ArtifactError as exc:
            paths = exc.saved
            for problem in exc.problems:
                Console(stderr=True).print(f"[yellow]warning:[/] artifact {problem}")
        if paths:
            console.print(f"saved {len(paths)} artifact(s) to {out / session}/")
            for path in paths:
                console.print(f"  {path}", highlight=False)
    return _BY_STATUS.get(result.status, ExitCode.FAILED)


@app.command()
def submit(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="what the assistant should do")],
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="input file for the code's work dir (repeatable)"),
    ] = None,
    follow: Annotated[
        bool, typer.Option(help="follow the session live (--no-follow: print its id and exit)")
    ] = True,
    out: Annotated[Path, typer.Option(help="artifacts go to OUT/<session>/")] = Path("out"),
    timeout: Annotated[float, typer.Option(help="the task's deadline, seconds")] = 900.0,
    max_turns: Annotated[
        int | None,
        typer.Option(help="model replies before giving up (default: the assistant's setting)"),
    ] = None,
    network: Annotated[bool, typer.Option(help="ask for network access in the sandbox")] = False,
    session: Annotated[
        str | None, typer.Option(help="session id (reuse one to continue it; default: new)")
    ] = None,
    system_prompt: Annotated[str | None, typer.Option(help="replace the system prompt")] = None,
    wait: Annotated[
        float | None,
        typer.Option(help="stop following after S seconds (default: --timeout + 60)"),
    ] = None,
) -> None:
    """Submit a task; by default follow it live, save its artifacts and exit with its status."""

    async def body(client: AgentStreamsClient) -> int:
        after = await client.log_position(session) if session else None
        sid = await client.submit(
            prompt,
            files=file or [],
            system_prompt=system_prompt,
            max_turns=max_turns,
            timeout_s=timeout,
            network=network,
            session=session,
        )
        if not follow:
            typer.echo(sid)
            return ExitCode.COMPLETED
        Console(stderr=True).print(f"session [bold]{sid}[/]", highlight=False)
        wait_s = wait if wait is not None else timeout + 60
        return await _follow(client, sid, out=out, wait_s=wait_s, after=after)

    _run(ctx, body)


@app.command("follow")
def follow_cmd(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="session id")],
    out: Annotated[Path, typer.Option(help="artifacts go to OUT/<session>/")] = Path("out"),
    from_start: Annotated[
        bool, typer.Option("--from-start/--new-only", help="replay what already happened first")
    ] = True,
    wait: Annotated[float | None, typer.Option(help="stop following after S seconds")] = None,
) -> None:
    """Follow a session until its result; save artifacts; exit with the task's status."""
    _run(ctx, lambda c: _follow(c, session, out=out, wait_s=wait, from_start=from_start))


@app.command()
def replay(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="session id")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Print the whole conversation of a session from its log."""

    async def body(client: AgentStreamsClient) -> int:
        console = Console(highlight=False)
        for event in await client.replay(session):
            if as_json:
                typer.echo(json.dumps(_event_json(event), ensure_ascii=False))
            else:
                console.print(render_event(event))
        return ExitCode.COMPLETED

    _run(ctx, body)


def _event_json(event: SessionEvent) -> dict[str, object]:
    m = event.message
    body = dataclasses.asdict(m) if dataclasses.is_dataclass(m) else m.model_dump(mode="json")
    return {
        "entry_id": event.entry_id,
        "time": event.timestamp.isoformat(),
        "topic": event.topic,
        "type": event.type,
        "id": event.message_id,
        "sender": event.sender,
        "body": body,
    }


@app.command()
def cancel(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="session id")],
    reason: Annotated[str, typer.Option(help="why (shown in the session)")] = "cancelled by user",
) -> None:
    """Cancel a session: the assistant ends it as cancelled, running code is killed."""

    async def body(client: AgentStreamsClient) -> int:
        await client.cancel(session, reason)
        typer.echo(f"cancel requested for {session}")
        return ExitCode.COMPLETED

    _run(ctx, body)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Queue depth, consumer lag, pending entries, consumers' idle time, errors, dead letters."""

    async def body(client: AgentStreamsClient) -> int:
        info = await client.status()
        if as_json:
            typer.echo(json.dumps(dataclasses.asdict(info), indent=2))
        else:
            console = Console(highlight=False)
            for renderable in status_tables(info):
                console.print(renderable)
        return ExitCode.COMPLETED

    _run(ctx, body)


@dead_letters_app.callback()
def _dead_letters(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        _list_dead_letters(ctx, 20, as_json=False)


@dead_letters_app.command("list")
def list_dead_letters(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(min=1, help="how many, newest first")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List the newest dead letters."""
    _list_dead_letters(ctx, count, as_json=as_json)


def _list_dead_letters(ctx: typer.Context, count: int, *, as_json: bool) -> None:
    async def body(client: AgentStreamsClient) -> int:
        letters = await client.dead_letters(count)
        if as_json:
            typer.echo(json.dumps([dataclasses.asdict(d) for d in letters], indent=2))
        else:
            Console(highlight=False).print(dead_letters_table(letters))
        return ExitCode.COMPLETED

    _run(ctx, body)


@dead_letters_app.command("show")
def show_dead_letter(
    ctx: typer.Context, entry_id: Annotated[str, typer.Argument(help="dead-letter entry id")]
) -> None:
    """Show one dead letter: where it came from, why, and its original fields."""

    async def body(client: AgentStreamsClient) -> int:
        Console(highlight=False).print(dead_letter_detail(await client.dead_letter(entry_id)))
        return ExitCode.COMPLETED

    _run(ctx, body)


@dead_letters_app.command("retry")
def retry_dead_letter(
    ctx: typer.Context, entry_id: Annotated[str, typer.Argument(help="dead-letter entry id")]
) -> None:
    """Put a dead letter back on the stream it came from (and remove it from the list)."""

    async def body(client: AgentStreamsClient) -> int:
        letter = await client.dead_letter(entry_id)
        new_id = await client.retry_dead_letter(entry_id)
        typer.echo(f"requeued {entry_id} on {letter.stream} as {new_id}")
        return ExitCode.COMPLETED

    _run(ctx, body)


if __name__ == "__main__":
    app()
