"""How the CLI shows things with Rich: session events, the status tables, dead letters.

Assistant turns are rendered as markdown (fenced code is syntax-highlighted); execution output
is shown in a panel, cut to its last lines; a spinner says what the session is waiting for
when the console is a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.markdown import Markdown
from rich.panel import Panel
from rich.status import Status
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from .admin import DeadLetter, SystemStatus
from .messages import (
    ArtifactRef,
    AssistantTurn,
    CancelTask,
    ExecutionRequest,
    ExecutionResult,
    TaskRequest,
    TaskResult,
)
from .session_log import ErrorEvent, OtherEvent, SessionEvent

__all__ = [
    "EventPrinter",
    "dead_letter_detail",
    "dead_letters_table",
    "render_event",
    "status_tables",
]

_OUTPUT_LINES = 40
_STATUS_STYLE = {
    "completed": "bold green",
    "cancelled": "bold yellow",
    "max_turns": "bold yellow",
    "deadline": "bold red",
    "model_error": "bold red",
    "failed": "bold red",
}


def _tail(text: str, lines: int = _OUTPUT_LINES) -> str:
    rows = text.rstrip("\n").splitlines()
    if len(rows) <= lines:
        return "\n".join(rows)
    return f"... ({len(rows) - lines} lines above)\n" + "\n".join(rows[-lines:])


def _artifact_lines(artifacts: Iterable[ArtifactRef]) -> Text:
    lines = []
    for a in artifacts:
        note = "" if a.stored else f"  (not stored: {a.note or 'over the size cap'})"
        lines.append(
            Text.assemble((f"  {a.name}", "cyan"), (f"  {a.size} B  {a.media_type}{note}", "dim"))
        )
    return Text("\n").join(lines)


def render_event(event: SessionEvent) -> RenderableType:
    """One session event as a Rich renderable."""
    m = event.message
    when = event.timestamp.strftime("%H:%M:%S")
    if isinstance(m, TaskRequest):
        files = f"  files: {', '.join(f.name for f in m.files)}" if m.files else ""
        return Panel(
            Text(m.prompt),
            title=f"task {event.session}",
            subtitle=f"{when}  max_turns={m.max_turns}  timeout={m.timeout_s:g}s{files}",
            border_style="blue",
        )
    if isinstance(m, AssistantTurn):
        usage = f"{m.usage.prompt_tokens}+{m.usage.completion_tokens} tokens"
        return Panel(
            Markdown(m.content or "_(empty reply)_"),
            title=f"assistant, turn {m.turn}",
            subtitle=f"{when}  {usage}",
            border_style="magenta",
        )
    if isinstance(m, ExecutionRequest):
        if m.turn == 0:
            return Text(f"{when} describing the input files for the model", style="dim")
        langs = ", ".join(b.language for b in m.code_blocks)
        return Text(f"{when} running {len(m.code_blocks)} code block(s) ({langs})", style="dim")
    if isinstance(m, ExecutionResult):
        return _execution_result(m, when)
    if isinstance(m, TaskResult):
        return _task_result(m, when)
    if isinstance(m, CancelTask):
        if event.topic == "code":  # the assistant telling the executor to stop
            return Text(f"{when} stopping the running code: {m.reason}", style="yellow")
        return Text(f"{when} cancel requested: {m.reason}", style="yellow")
    if isinstance(m, ErrorEvent):
        return Text(f"{when} error [{m.code}] {m.type or '?'}: {m.error}", style="bold red")
    return _other(m, when, event.type)


def _execution_result(m: ExecutionResult, when: str) -> RenderableType:
    if m.timed_out:
        state, style = "timed out", "red"
    elif m.cancelled:
        state, style = "cancelled", "yellow"
    elif m.exit_code == 0:
        state, style = "exit 0", "green"
    else:
        state, style = f"exit {m.exit_code}", "red"
    parts: list[RenderableType] = [
        Syntax(_tail(m.output) or "(no output)", "text", word_wrap=True, theme="ansi_dark")
    ]
    if m.artifacts:
        parts.append(_artifact_lines(m.artifacts))
    what = "input files described" if m.turn == 0 else f"execution, turn {m.turn}"
    return Panel(
        Group(*parts),
        title=f"{what}: {state}",
        subtitle=f"{when}  {m.duration_s:.2f}s",
        border_style=style,
    )


def _task_result(m: TaskResult, when: str) -> RenderableType:
    style = _STATUS_STYLE.get(m.status, "bold")
    parts: list[RenderableType] = []
    if m.answer:
        parts.append(Markdown(m.answer))
    if m.error:
        parts.append(Text(m.error, style="red"))
    if m.artifacts:
        parts.append(Text("artifacts:", style="bold"))
        parts.append(_artifact_lines(m.artifacts))
    usage = f"{m.usage.prompt_tokens}+{m.usage.completion_tokens} tokens"
    return Panel(
        Group(*parts) if parts else Text("(no answer)"),
        title=Text(f"result: {m.status}", style=style),
        subtitle=f"{when}  {m.turns} turn(s)  {usage}",
        border_style=style.removeprefix("bold "),
    )


def _other(m: OtherEvent, when: str, type_: str) -> RenderableType:
    return Text(f"{when} {type_ or '(no type)'}: {m.reason}", style="dim")


class EventPrinter:
    """Prints events as they come, with a spinner saying what the session waits for."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._status: Status | None = None

    def show(self, event: SessionEvent) -> None:
        self._stop_spinner()
        self._console.print(render_event(event))
        self._console.file.flush()  # live even when piped (`| tee log`)
        waiting = self._waiting_for(event)
        if waiting and self._console.is_terminal:
            self._status = self._console.status(waiting, spinner="dots")
            self._status.start()

    @staticmethod
    def _waiting_for(event: SessionEvent) -> str | None:
        m = event.message
        if isinstance(m, TaskRequest | ExecutionResult):
            return "waiting for the model..."
        if isinstance(m, AssistantTurn):
            return "running code..." if m.code_blocks else "finishing..."
        if isinstance(m, ExecutionRequest):
            return "running code..."
        if isinstance(m, CancelTask):
            return "cancelling..."
        return None

    def _stop_spinner(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        self._stop_spinner()


def status_tables(status: SystemStatus) -> list[RenderableType]:
    streams = Table(title=f"streams in namespace {status.namespace!r}", title_justify="left")
    for col in ("stream", "length", "group", "lag", "pending", "consumers (pending, idle)"):
        streams.add_column(col, justify="right" if col in ("length", "lag", "pending") else "left")
    for s in status.streams:
        label = f"{s.kind}:{s.name}"
        if not s.groups:
            streams.add_row(label, str(s.length), "-", "-", "-", "")
        for i, g in enumerate(s.groups):
            consumers = ", ".join(
                f"{c.name} ({c.pending}, {c.idle_ms / 1000:.1f}s)" for c in g.consumers
            )
            lag_style = "yellow" if g.lag else ""
            streams.add_row(
                label if i == 0 else "",
                str(s.length) if i == 0 else "",
                g.name,
                Text("?" if g.lag is None else str(g.lag), style=lag_style),
                Text(str(g.pending), style="yellow" if g.pending else ""),
                consumers or Text("none", style="red" if g.lag or g.pending else "dim"),
            )
    totals = Text.assemble(
        ("errors: ", "bold"),
        (str(status.errors), "red" if status.errors else "green"),
        ("   dead letters: ", "bold"),
        (str(status.dead_letters), "red" if status.dead_letters else "green"),
    )
    return [streams, totals]


def dead_letters_table(letters: list[DeadLetter]) -> RenderableType:
    if not letters:
        return Text("no dead letters", style="green")
    table = Table(title="dead letters (newest first)", title_justify="left")
    for col in ("id", "stream", "group", "type", "session", "code"):
        table.add_column(col, no_wrap=True)
    table.add_column("error", overflow="fold", ratio=1)
    for d in letters:
        stream = d.stream.split(":", 1)[-1]  # without the namespace
        error = d.error.splitlines()[0] if d.error else ""
        table.add_row(d.entry_id, stream, d.group, d.type, d.source, d.code, error)
    return table


def dead_letter_detail(letter: DeadLetter) -> RenderableType:
    meta = Table.grid(padding=(0, 2))
    for name in ("entry_id", "stream", "entry", "group", "type", "source", "message_id", "code"):
        meta.add_row(Text(name, style="bold"), str(getattr(letter, name)))
    meta.add_row(Text("error", style="bold"), Text(letter.error, style="red"))
    fields = Table.grid(padding=(0, 2))
    for name, value in letter.fields.items():
        shown: RenderableType = Text(value)
        if name == "body":
            try:
                pretty = json.dumps(json.loads(value), indent=2, ensure_ascii=False)
                shown = Syntax(pretty, "json", word_wrap=True, theme="ansi_dark")
            except ValueError:
                pass  # not JSON (that may be why it was dead-lettered): show it as it is
        fields.add_row(Text(name, style="bold"), shown)
    return Group(meta, Panel(fields, title="original fields"))
