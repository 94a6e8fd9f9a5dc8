"""The quality bench's model server and load: the llama.cpp server image on a free loopback
port, and the thread count picked from the load (see ``assistant_quality``'s docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Iterator

from _quality_tasks import ROOT
from _runtime_harness import load_average

LLM_READY_S = 180.0


# -- load -------------------------------------------------------------------------------------
def pick_threads(load: float, cores: int) -> int:
    """Threads that fit beside what already runs (rounded: 2 only when under half a core is
    taken on a 2-core machine)."""
    return max(1, min(cores, int(cores - load + 0.5)))


async def sample_load(samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(load_average())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 15)


# -- the model server --------------------------------------------------------------------------
def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextlib.contextmanager
def llm_server(image: str, model_file: str, threads: int, model: str) -> Iterator[str]:
    """The llama.cpp server image on a random loopback port; removed on exit."""
    models = ROOT / "models"
    if not (models / model_file).is_file():
        raise SystemExit(f"{models / model_file} is missing: make models")
    run = _docker(
        "run", "--detach", "--init", "--label", "agent-streams.bench=quality",
        "--publish", "127.0.0.1::8081",
        "--volume", f"{models}:/models:ro",
        "--env", f"MODEL_FILE={model_file}",
        "--env", f"MODEL_ALIAS={model}",
        "--env", f"LLM_THREADS={threads}",
        "--memory", "4g",
        image,
        check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise SystemExit(f"docker run {image} failed (make llm-image?): {run.stderr.strip()}")
    container = run.stdout.strip()
    try:
        port = _docker("port", container, "8081/tcp").stdout.splitlines()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + LLM_READY_S
        while not _answers(url):
            state = _docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip()
            if state != "true" or time.monotonic() > deadline:
                logs = _docker("logs", "--tail", "20", container, check=False).stderr
                raise SystemExit(f"the model server did not come up:\n{logs}")
            time.sleep(0.5)  # nothing announces readiness but the HTTP answer itself
        print(f"model server {container[:12]} at {url} ({model_file}, LLM_THREADS={threads})")
        yield url
    finally:
        _docker("rm", "--force", container, check=False)
