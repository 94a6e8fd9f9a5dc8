"""Code execution speed, side by side with AutoGen's executors on the same sandbox image.

    uv sync --group bench && uv run python bench/executor.py [--runs 20] [--image IMAGE]

For each executor, in a warm session (container or runner started, one warm-up run), the
wall time of ``execute_code_blocks`` for:

* ``print(1)``: the per-block overhead, all of it;
* ``import numpy, pandas, matplotlib.pyplot``: an import-heavy block (Docker executors only,
  and the local ones when this interpreter has those packages).

Contenders: ours (Docker: a locked-down container with a warm runner; local: a fork server),
the same behind AutoGen's constructors (``agent_streams_executor.code_executors``: work_dir
copied in and back, code files cleaned up as AutoGen's local executor does),
AutoGen 0.7.5's ``DockerCommandLineCodeExecutor`` (a ``docker exec`` per block, not locked down)
and ``LocalCommandLineCodeExecutor`` (a new interpreter per block), and a bare
``sys.executable -c 'print(1)'`` spawn. Targets (the issue): Docker per-block overhead no worse
than AutoGen's, import-heavy blocks >= 10x faster than AutoGen's, local ``print(1)`` within
1.2x of a bare spawn. Medians over ``--runs``; the machine is shared, so look at ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from autogen_core import CancellationToken as AutoGenToken
from autogen_core.code_executor import CodeBlock as AutoGenBlock
from autogen_ext.code_executors.docker import DockerCommandLineCodeExecutor
from autogen_ext.code_executors.local import LocalCommandLineCodeExecutor as AutoGenLocal

from agent_streams import CancellationToken
from agent_streams_executor.code_executors import (
    DockerCommandLineCodeExecutor as ShapedDocker,
)
from agent_streams_executor.code_executors import (
    LocalCommandLineCodeExecutor as ShapedLocal,
)
from agent_streams_executor.executors.base import CodeBlock
from agent_streams_executor.executors.docker import DockerExecutorPool
from agent_streams_executor.executors.local import LocalSandboxExecutor
from agent_streams_executor.settings import ExecutorSettings

PRINT = "print(1)"
IMPORTS = "import numpy, pandas, matplotlib.pyplot\nprint(numpy.__version__)"
Run = Callable[[str], Awaitable[int]]


def stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return f"{statistics.median(ms):9.1f} ms  (p90 {p90:7.1f}, min {ms[0]:7.1f})"


async def measure(run: Run, code: str, runs: int) -> list[float]:
    exit_code = await run(code)  # warm-up (AutoGen's first matplotlib import builds a cache)
    if exit_code != 0:
        raise RuntimeError(f"warm-up of {code!r} failed with exit code {exit_code}")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await run(code)
        samples.append(time.perf_counter() - started)
    return samples


@contextlib.asynccontextmanager
async def ours_docker(image: str) -> AsyncIterator[Run]:
    pool = DockerExecutorPool(ExecutorSettings(image=image, warm_spares=0), namespace="bench")
    await pool.start()
    try:
        executor = await pool.executor("bench")
        await executor.start()

        async def run(code: str) -> int:
            result = await executor.execute_code_blocks([CodeBlock(code)], CancellationToken())
            return result.exit_code

        yield run
    finally:
        await pool.aclose()


@contextlib.asynccontextmanager
async def ours_shaped(executor: ShapedDocker | ShapedLocal) -> AsyncIterator[Run]:
    """Ours behind AutoGen's constructor: what the quickstart and ported AutoGen code use."""
    async with executor:

        async def run(code: str) -> int:
            result = await executor.execute_code_blocks([CodeBlock(code)], CancellationToken())
            return result.exit_code

        yield run


@contextlib.asynccontextmanager
async def autogen_docker(image: str) -> AsyncIterator[Run]:
    with tempfile.TemporaryDirectory() as work:
        os.chmod(work, 0o777)  # the image's user (uid 10001) writes into this bind mount
        executor = DockerCommandLineCodeExecutor(image=image, work_dir=work, timeout=60)
        await executor.start()
        try:

            async def run(code: str) -> int:
                blocks = [AutoGenBlock(code=code, language="python")]
                return (await executor.execute_code_blocks(blocks, AutoGenToken())).exit_code

            yield run
        finally:
            await executor.stop()


@contextlib.asynccontextmanager
async def ours_local() -> AsyncIterator[Run]:
    with tempfile.TemporaryDirectory() as root:
        executor = LocalSandboxExecutor(
            Path(root) / "work", preload=["numpy", "pandas", "matplotlib", "matplotlib.pyplot"]
        )
        await executor.start()
        try:

            async def run(code: str) -> int:
                result = await executor.execute_code_blocks([CodeBlock(code)], CancellationToken())
                return result.exit_code

            yield run
        finally:
            await executor.stop()


@contextlib.asynccontextmanager
async def autogen_local() -> AsyncIterator[Run]:
    with tempfile.TemporaryDirectory() as work:
        executor = AutoGenLocal(work_dir=work, timeout=60)
        await executor.start()
        try:

            async def run(code: str) -> int:
                blocks = [AutoGenBlock(code=code, language="python")]
                return (await executor.execute_code_blocks(blocks, AutoGenToken())).exit_code

            yield run
        finally:
            await executor.stop()


@contextlib.asynccontextmanager
async def bare_spawn() -> AsyncIterator[Run]:
    async def run(code: str) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        await process.communicate()
        return process.returncode or 0

    yield run


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--image", default=os.environ.get("SANDBOX_IMAGE", "agent-streams/sandbox:latest")
    )
    parser.add_argument("--skip-docker", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # our local executor's not-a-sandbox warning
    warnings.filterwarnings("ignore", "Using LocalCommandLineCodeExecutor", UserWarning)
    local_imports = all(importlib.util.find_spec(m) for m in ("numpy", "pandas", "matplotlib"))

    contenders: list[tuple[str, Any, bool]] = []
    if not args.skip_docker:
        contenders += [
            ("ours docker (locked down)", ours_docker(args.image), True),
            ("ours docker, AutoGen's constructor", ours_shaped(ShapedDocker(args.image)), True),
            ("AutoGen docker (docker exec)", autogen_docker(args.image), True),
        ]
    contenders += [
        ("ours local (fork server)", ours_local(), local_imports),
        ("ours local, AutoGen's constructor", ours_shaped(ShapedLocal()), local_imports),
        ("AutoGen local (new interpreter)", autogen_local(), local_imports),
        ("bare sys.executable -c", bare_spawn(), local_imports),
    ]

    results: dict[str, dict[str, float]] = {}
    print(f"{args.runs} runs each, after one warm-up; image {args.image}\n")
    print(f"{'executor':34s} {'block':8s} median")
    for name, context, imports in contenders:
        async with context as run:
            results[name] = {}
            for label, code in (("print", PRINT), ("imports", IMPORTS)):
                if label == "imports" and not imports:
                    print(f"{name:34s} {label:8s} n/a (numpy/pandas/matplotlib not installed here)")
                    continue
                samples = await measure(run, code, args.runs)
                results[name][label] = statistics.median(samples)
                print(f"{name:34s} {label:8s} {stats(samples)}")

    print("\nratios (medians)                                  measured   target")

    def ratio(label: str, a: str, b: str, block: str, target: str) -> None:
        if block in results.get(a, {}) and block in results.get(b, {}):
            value = results[a][block] / results[b][block]
            print(f"  {label:48s} {value:7.2f}x   {target}")

    ratio(
        "docker print(1): ours / AutoGen",
        "ours docker (locked down)",
        "AutoGen docker (docker exec)",
        "print",
        "<= 1.0x",
    )
    ratio(
        "docker imports: AutoGen / ours (speed-up)",
        "AutoGen docker (docker exec)",
        "ours docker (locked down)",
        "imports",
        ">= 10x",
    )
    ratio(
        "local print(1): ours / bare spawn",
        "ours local (fork server)",
        "bare sys.executable -c",
        "print",
        "<= 1.2x",
    )
    ratio(
        "local print(1): ours / AutoGen",
        "ours local (fork server)",
        "AutoGen local (new interpreter)",
        "print",
        "",
    )
    ratio(
        "local imports: AutoGen / ours (speed-up)",
        "AutoGen local (new interpreter)",
        "ours local (fork server)",
        "imports",
        "",
    )


if __name__ == "__main__":
    asyncio.run(main())
