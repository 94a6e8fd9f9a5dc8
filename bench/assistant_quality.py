"""Assistant quality: N runs of a small task set through the real loop and the real model.

    make bench-quality                       # RUNS=5, Docker sandbox, the basic tasks
    make bench-quality RUNS=1 BENCH_ARGS="--set data"             # the 56 data questions
    make bench-quality RUNS=1 BENCH_ARGS="--set data --model qwen2.5-coder-0.5b"
    make bench-quality RUNS=1 BENCH_ARGS="--set data --reference"  # FAKE model: checks the bench
    uv run python bench/assistant_quality.py [--runs 5] [--set basic|data|all]
        [--tasks demo,primes] [--category plot,dates] [--local]

Two task sets: ``basic`` (the default: demo, primes, mean, csv; ``_quality_tasks.py``) and
``data``: plain data-analysis questions over the tables in ``quality_data/``, each with an exact
expected answer computed by a reference solution (``_data_questions.py``, ``_questions_*.py``)
and checked by ``_answer_check.py``; ``all`` is both. ``--reference`` replaces the model by a
FAKE that answers every data question with its reference solution, then the expected answer
(``_reference_model.py``): every question must then be exactly right.

What runs, all in this process but each on its own ``RedisStreamsRuntime`` (the production
runtime, as the services wire it in their ``main.py``), over a private ``redis-server`` on a free
loopback port (``--redis-url`` to use another):

* the real ``Assistant`` agent (Redis session store, endings, deadline sweeper) with the real
  OpenAI client, talking to the real llama.cpp server: the ``agent-streams/llm`` image, started
  here on a random 127.0.0.1 port with ``models/`` mounted read-only and removed afterwards
  (``--base-url`` to use a running server instead);
* the real ``Executor`` agent on a ``DockerExecutorPool`` (sandbox image, locked down as in
  compose), or the local executor with ``--local`` (NOT a sandbox; its interpreter needs
  pandas and matplotlib for the demo);
* tasks submitted with ``AgentStreamsClient.submit`` as the CLI does (max_turns 8), one at a
  time, each in a new session; ``demo`` is ``make demo``'s task verbatim (the prompt from
  ``examples/demo-prompt.txt``, the input ``examples/data/stocks.csv``).

The checks (``_quality_tasks.py``) look at what came out, not at exit codes. The report
(``_quality_report.py``): per basic task, success rate, median turns, median wall time and
failures by kind; then the demo task against the target: it succeeds in >= 4 of 5 runs within
5 turns. For the data questions, the same per category and difficulty, with "value computed
but lost", and the target: >= 70 % exactly right with a median of <= 3 turns.

Threads (``_llm_server.py``): ``LLM_THREADS`` is picked from the load average measured before
the server starts (2 only on an otherwise idle 2-core machine: with 2 threads llama.cpp's
generation collapses when another process takes a core, 1 thread degrades gracefully);
``--threads`` overrides. The
load is sampled during the run and printed with the figures: on a shared machine wall times
say more about the neighbours than about the loop. Differences from ``make demo``: the model
call's timeout (``--model-timeout``, 600 s instead of compose's 120 s) and the task deadline
(``--task-timeout``, 1800 s instead of 900 s) are longer, so that a busy machine shows up as
slow runs, not as failures; both endings are still counted when they happen.

Transcripts (every reply, every run's output, the checks' notes), the artifacts and
``summary.json`` go to ``--out`` (default ``.build/bench-quality/<time>/``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from _llm_server import llm_server, pick_threads, sample_load
from _quality_report import Run, report, verdict, write_summary
from _quality_tasks import DEMO_PROMPT_FILE, OPTIONAL, ROOT, Outcome, Task, data_tasks, tasks
from _reference_model import reference_model
from _runtime_harness import delete_namespace, load_average, private_redis
from agent_streams import CancellationToken
from agent_streams.artifacts import ArtifactStore
from agent_streams.client import AgentStreamsClient
from agent_streams.exceptions import ArtifactError
from agent_streams.logging import configure_logging
from agent_streams.messages import AssistantTurn, ExecutionResult, TaskResult
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings
from agent_streams_assistant.agent import AGENT_TYPE as ASSISTANT
from agent_streams_assistant.agent import Assistant, AssistantConfig
from agent_streams_assistant.endings import DeadlineSweeper, Endings
from agent_streams_assistant.model_settings import ModelSettings
from agent_streams_assistant.models import LLMMessage
from agent_streams_assistant.openai_client import OpenAIChatCompletionClient
from agent_streams_assistant.redis_store import RedisSessionStore
from agent_streams_executor.agent import AGENT_TYPE as EXECUTOR
from agent_streams_executor.agent import Executor, RunRegistry
from agent_streams_executor.executors.base import CodeBlock
from agent_streams_executor.executors.docker import DockerExecutorPool
from agent_streams_executor.executors.local import LocalExecutorPool
from agent_streams_executor.executors.pool import ExecutorPool
from agent_streams_executor.settings import ExecutorSettings

MODEL_NAME = "qwen2.5-coder-1.5b"


# -- the loop: the services' own agents, wired as their main() does ---------------------------
@dataclass
class Stack:
    client: AgentStreamsClient
    pool: ExecutorPool
    store: RedisSessionStore


@contextlib.asynccontextmanager
async def stack(args: argparse.Namespace, redis_url: str, base_url: str) -> AsyncIterator[Stack]:
    namespace = f"bench-quality-{uuid.uuid4().hex[:8]}"

    def runtime_settings(name: str) -> RuntimeSettings:
        # a short drain: on ^C the in-flight model call is not worth waiting for
        return RuntimeSettings(
            redis_url=redis_url, namespace=namespace, consumer_name=name, drain_grace_s=2
        )

    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(delete_namespace, redis_url, namespace)  # last, when all stop
        # the Assistant
        assistant_rt = RedisStreamsRuntime(runtime_settings("assistant-1"))
        store = RedisSessionStore(
            assistant_rt.redis, assistant_rt.keys, agent_type=ASSISTANT, ttl_s=86_400
        )
        model = OpenAIChatCompletionClient(
            ModelSettings(
                base_url=base_url,
                name=args.model,
                timeout_s=args.model_timeout,
                deadline_s=args.model_timeout * 2,
            )
        )
        stack.push_async_callback(model.close)
        endings = Endings(store, assistant_rt, ASSISTANT)
        config = AssistantConfig(answer_votes=args.answer_votes)
        await Assistant.register(
            assistant_rt, ASSISTANT, lambda: Assistant(model, store, endings, config)
        )
        # the Executor
        executor_rt = RedisStreamsRuntime(runtime_settings("executor-1"))
        if args.local:
            local_root = Path(tempfile.mkdtemp(prefix="bench-quality-local-"))
            stack.callback(shutil.rmtree, local_root, ignore_errors=True)
            settings = ExecutorSettings(backend="local", local_root_dir=local_root)
            pool: ExecutorPool = LocalExecutorPool(settings)
        else:
            settings = ExecutorSettings(image=args.image)
            pool = DockerExecutorPool(settings, namespace=namespace)
        await pool.start()
        stack.push_async_callback(pool.aclose)
        artifacts = ArtifactStore(
            executor_rt.redis,
            executor_rt.keys,
            ttl_s=settings.artifact_ttl_s,
            max_file_bytes=settings.artifact_max_file_bytes,
            max_run_bytes=settings.artifact_max_run_bytes,
        )
        runs = RunRegistry(executor_rt.redis, executor_rt.keys, result_ttl_s=86_400)
        await Executor.register(executor_rt, EXECUTOR, lambda: Executor(pool, artifacts, runs))
        for runtime in (assistant_rt, executor_rt):
            runtime.start()
            stack.push_async_callback(runtime.stop)
            await runtime.ready()
        stop = asyncio.Event()
        sweeper = DeadlineSweeper(store, endings)
        sweeping = asyncio.create_task(sweeper.run(stop))

        async def stop_sweeper() -> None:
            stop.set()
            await sweeping

        stack.push_async_callback(stop_sweeper)
        client = await stack.enter_async_context(
            AgentStreamsClient(runtime_settings("bench-client"))
        )
        yield Stack(client, pool, store)


# -- one task run -----------------------------------------------------------------------------
async def run_task(
    system: Stack, task: Task, index: int, args: argparse.Namespace, out: Path
) -> Run:
    label = f"{task.name}#{index}"
    started = time.perf_counter()
    session = await system.client.submit(
        task.prompt,
        files=list(task.files),
        max_turns=args.max_turns,
        timeout_s=args.task_timeout,
    )
    result: TaskResult | None = None
    async with contextlib.aclosing(system.client.follow(session)) as events:
        async for event in events:
            message = event.message
            if isinstance(message, AssistantTurn):
                blocks = len(message.code_blocks)
                print(f"  {label} turn {message.turn}: {blocks} block(s), "
                      f"{message.usage.completion_tokens} tokens, "
                      f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
            elif isinstance(message, ExecutionResult):
                print(f"  {label}   ran: exit {message.exit_code}"
                      f"{' (timed out)' if message.timed_out else ''}, "
                      f"{len(message.artifacts)} file(s)", flush=True)  # fmt: skip
            elif isinstance(message, TaskResult):
                result = message
    wall = time.perf_counter() - started
    if result is None:
        raise RuntimeError(f"{label}: the session log ended without a result")
    where = out / f"{task.name}-{index}"
    where.mkdir(parents=True, exist_ok=True)
    try:
        saved = await system.client.save_artifacts(result, where, session=session)
    except ArtifactError as exc:
        saved = exc.saved
    await system.pool.close_session(session)
    outcome = Outcome(
        result=result,
        events=await system.client.replay(session),
        artifacts={p.name: p for p in saved},
        run_python=lambda code, files: _run_python(system.pool, code, files),
    )
    history = await system.store.history(session)
    kinds = await task.check(outcome)
    if args.reference and not outcome.computed:
        # the reference printed its values: the sandbox must have reproduced the stored ones
        kinds.append("reference_not_reproduced")
    run = Run(
        task.name,
        index,
        result.status,
        result.turns,
        wall,
        result.usage.completion_tokens,
        kinds,
        outcome.notes,
        task.category,
        task.difficulty,
        outcome.lost,
        sum(1 for r in outcome.executions() if r.turn > 0 and (r.exit_code != 0 or r.timed_out)),
    )
    _write_transcript(where / "transcript.md", run, history, outcome)
    print(f"{label}: {verdict(run)} ({result.status}, {result.turns} turns, {wall:.0f} s, "
          f"load {load_average():.1f})", flush=True)  # fmt: skip
    return run


async def _run_python(pool: ExecutorPool, code: str, files: dict[str, bytes]) -> tuple[int, str]:
    session = f"check-{uuid.uuid4().hex[:8]}"
    try:
        result = await pool.run(session, [CodeBlock(code)], CancellationToken(), files=files)
    finally:
        await pool.close_session(session)
    return result.exit_code, result.output


def _write_transcript(path: Path, run: Run, history: list[LLMMessage], outcome: Outcome) -> None:
    """What the model read and wrote (the stored history, feedback included), each run's
    output, and the checks' verdict."""
    parts = [
        f"# {run.task} #{run.index}: {verdict(run)}\n",
        f"status {run.status}, {run.turns} turns, {run.wall_s:.1f} s; {'; '.join(run.notes)}\n",
    ]
    for message in history:
        who = getattr(message, "source", "system")
        parts.append(f"## {type(message).__name__} ({who})\n\n{message.content}\n")
    for result in outcome.executions():
        files = ", ".join(a.name for a in result.artifacts)
        parts.append(
            f"## run of turn {result.turn}: exit {result.exit_code}, files: {files or '-'}\n\n"
            f"```text\n{result.output[-4000:]}\n```\n"
        )
    parts.append(f"## result: {outcome.result.status}\n\n{outcome.result.error or ''}\n")
    path.write_text("\n".join(parts))


# -- main -------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--set", default="basic", choices=("basic", "data", "all"), help="the task set"
    )
    parser.add_argument(
        "--tasks",
        default="",
        help="comma list of task names from any set (demo,primes,mean,csv, demo-terse, the "
        "data questions' ids); overrides --set",
    )
    parser.add_argument("--category", default="", help="comma list: only these categories")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="a FAKE model answering each data question with its reference solution",
    )
    parser.add_argument(
        "--demo-prompt-file", type=Path, default=DEMO_PROMPT_FILE, help="as make demo's"
    )
    parser.add_argument("--local", action="store_true", help="local executor (NOT a sandbox)")
    parser.add_argument(
        "--image", default=os.environ.get("SANDBOX_IMAGE", "agent-streams/sandbox:latest")
    )
    parser.add_argument(
        "--llm-image", default=os.environ.get("LLM_IMAGE", "agent-streams/llm:latest")
    )
    parser.add_argument(
        "--model", default=MODEL_NAME, help="model name (deploy/model.py), e.g. qwen2.5-coder-0.5b"
    )
    parser.add_argument("--model-file", help="in models/ (default: <model>.gguf)")
    parser.add_argument("--threads", type=int, help="LLM_THREADS (default: from the load)")
    parser.add_argument(
        "--base-url",
        help="use this running model server instead; a comma list of servers runs one task "
        "per server at a time (each its own Assistant and Executor, namespace and sandboxes)",
    )
    parser.add_argument("--redis-url", help="use this Redis instead of a private one")
    parser.add_argument("--max-turns", type=int, default=8, help="as the CLI's default")
    parser.add_argument(
        "--answer-votes", type=int, default=1, help="AGENT_STREAMS_ASSISTANT_ANSWER_VOTES"
    )
    parser.add_argument("--model-timeout", type=float, default=600.0)
    parser.add_argument("--task-timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, help="default: .build/bench-quality/<time>")
    parser.add_argument("--json", type=Path, help="also write every run's record here")
    args = parser.parse_args(argv)
    args.model_file = args.model_file or f"{args.model}.gguf"
    return args


def choose(args: argparse.Namespace) -> list[Task]:
    """The tasks --set / --tasks / --category / --reference select."""
    basic = [t for t in tasks(args.demo_prompt_file) if t.name not in OPTIONAL]
    everything = [*tasks(args.demo_prompt_file), *data_tasks()]
    if args.tasks:
        wanted = args.tasks.split(",")
        chosen = [t for t in everything if t.name in wanted]
        if unknown := set(wanted) - {t.name for t in chosen}:
            raise SystemExit(f"no task named {sorted(unknown)}")
    else:
        chosen = {"basic": basic, "data": data_tasks(), "all": [*basic, *data_tasks()]}[args.set]
    if args.category:
        categories = args.category.split(",")
        chosen = [t for t in chosen if t.category in categories]
    if args.reference:
        dropped = [t.name for t in chosen if t.reference is None]
        if dropped:
            print(f"--reference: no reference solution for {', '.join(dropped)}: left out")
        chosen = [t for t in chosen if t.reference is not None]
    if not chosen:
        raise SystemExit("no task selected")
    return chosen


async def measure(args: argparse.Namespace, redis_url: str, base_url: str) -> list[Run]:
    chosen = choose(args)
    out = args.out or ROOT / ".build" / "bench-quality" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    args.out = out
    print(f"transcripts and artifacts: {out} ({len(chosen)} task(s), {args.runs} run(s) each)")
    # one round = every task once: load changes over time hit every task alike
    work = [(index, task) for index in range(1, args.runs + 1) for task in chosen]
    order = {(index, task.name): n for n, (index, task) in enumerate(work)}
    queue: asyncio.Queue[tuple[int, Task]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    runs: list[Run] = []

    async def worker(url: str) -> None:
        async with stack(args, redis_url, url) as system:
            while not queue.empty():
                index, task = queue.get_nowait()
                runs.append(await run_task(system, task, index, args, out))

    async with asyncio.TaskGroup() as group:
        for url in base_url.split(","):
            group.create_task(worker(url))
    return sorted(runs, key=lambda run: order[(run.index, run.task)])


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    configure_logging("WARNING", json=False, service="bench")
    if args.reference:
        args.base_url = None  # the fake is started below
    cores = os.cpu_count() or 1
    load_before = load_average()
    threads = args.threads or pick_threads(load_before, cores)
    print(
        f"load average before: {load_before:.2f} on {cores} cores"
        + ("" if args.base_url else f" -> LLM_THREADS={threads}")
    )
    loads: list[float] = []

    async def sampled(redis_url: str, base_url: str) -> list[Run]:
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_load(loads, stop))
        try:
            return await measure(args, redis_url, base_url)
        finally:
            stop.set()
            await sampler

    with contextlib.ExitStack() as stack:
        redis_url = args.redis_url or stack.enter_context(private_redis())
        if args.reference:
            scripts = {t.prompt: t.reference for t in choose(args) if t.reference is not None}
            base_url = stack.enter_context(reference_model(scripts))
        else:
            base_url = args.base_url or stack.enter_context(
                llm_server(args.llm_image, args.model_file, threads, args.model)
            )
        started = time.perf_counter()
        runs = asyncio.run(sampled(redis_url, base_url))
        elapsed = time.perf_counter() - started
    executor = "local executor" if args.local else f"Docker sandbox {args.image}"
    if args.reference:
        model = "the FAKE reference model (reference solutions, expected answers)"
    elif args.base_url:
        model = f"the model server at {args.base_url} ({args.model})"
    else:
        model = f"model {args.model_file} (LLM_THREADS={threads})"
    header = (
        f"{args.runs} run(s) per task, {executor}, {model}, RedisStreamsRuntime; "
        f"{elapsed / 60:.0f} min in all"
    )
    met = report(runs, loads, header)
    write_summary(args.out / "summary.json", runs, header, met)
    print(f"summary: {args.out / 'summary.json'}")
    if args.json:
        args.json.write_text(json.dumps([vars(r) for r in runs], indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # SIGTERM (kill, a CI timeout) unwinds like ^C, so the model server container is removed
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # the model server, sandboxes and Redis are gone by now
        sys.exit(130)
