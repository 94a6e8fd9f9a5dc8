"""examples/quickstart.py, AutoGen's quickstart with its imports changed, runs as a user runs it.

``python examples/quickstart.py`` as a subprocess, both ways: in one process (the seed's own
``main()`` on ``SingleThreadedAgentRuntime``) and across processes (``--role executor`` and
``--role assistant`` over Redis Streams). The model is the scripted FAKE OpenAI-compatible
server (``tests/e2e/fake_model_server.py``) over real HTTP: the seed's prompt has no code, so
``FAKE_MODEL_SCRIPT`` gives its one turn, a script that plots "NVDA vs TSLA" offline (the
sandbox has no network) and saves the PNG, as the seed asks. The code runs in the real Docker
sandbox; the PNG must come back to the example's ``work_dir`` (``tempfile.mkdtemp()``, under
the subprocess's ``TMPDIR``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from tests.e2e.fake_model_server import Handler

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.py"
PLOT = "nvidia_vs_tesla_ytd_returns.png"
SCRIPT = f"""The model's one turn for the seed's prompt:

```python
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

days = list(range(1, 11))
nvda = [0.0, 1.2, 2.9, 2.1, 4.0, 5.5, 5.1, 6.8, 7.7, 9.0]
tsla = [0.0, -0.8, -1.5, -0.4, -2.2, -3.0, -2.6, -4.1, -3.7, -5.2]
plt.plot(days, nvda, label="NVDA")
plt.plot(days, tsla, label="TSLA")
plt.legend()
plt.savefig("{PLOT}")
print("saved {PLOT}")
```
"""


@pytest.fixture
def model_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The FAKE model server on a free loopback port, scripted for the seed's prompt."""
    script = tmp_path / "script.md"
    script.write_text(SCRIPT)
    monkeypatch.setenv("FAKE_MODEL_SCRIPT", str(script))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join()


def environment(model_url: str, sandbox_image: str, tmp: Path, **extra: str) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    prefixes = ("AGENT_STREAMS_", "OPENAI", "EXECUTOR_", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | {
        "AGENT_STREAMS_MODEL_BASE_URL": model_url,
        "AGENT_STREAMS_MODEL_NAME": "fake-model",
        "EXECUTOR_IMAGE": sandbox_image,
        "TMPDIR": str(tmp),  # where the seed's tempfile.mkdtemp() makes its work_dir
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def plots(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(f"*/{PLOT}"))


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000  # two lines and a legend, not an empty canvas


def test_the_seed_runs_in_one_process(model_url: str, sandbox_image: str, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    requests_before = Handler.stats.requests
    run = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        env=environment(model_url, sandbox_image, tmp),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Executor:\nsaved {PLOT}" in run.stdout
    assert f"the last run said: saved {PLOT}" in run.stdout  # the model saw the output
    assert Handler.stats.requests - requests_before == 2  # code, then the answer: idle, done
    [plot] = plots(tmp)
    assert_png(plot)


@pytest.mark.redis
def test_the_seed_agents_run_across_processes(
    model_url: str, sandbox_image: str, tmp_path: Path, redis_url: str
) -> None:
    namespace = f"quickstart-{uuid.uuid4().hex[:10]}"
    runtime = {"AGENT_STREAMS_REDIS_URL": redis_url, "AGENT_STREAMS_NAMESPACE": namespace}
    executor_tmp, assistant_tmp = tmp_path / "executor", tmp_path / "assistant"
    log = tmp_path / "executor.log"
    with log.open("w") as out:
        executor = subprocess.Popen(
            [sys.executable, str(QUICKSTART), "--role", "executor"],
            env=environment(model_url, sandbox_image, executor_tmp, **runtime),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assistant = subprocess.run(
            [sys.executable, str(QUICKSTART), "--role", "assistant"],
            env=environment(model_url, sandbox_image, assistant_tmp, **runtime),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert assistant.returncode == 0, assistant.stdout + assistant.stderr + log.read_text()
        assert f"the last run said: saved {PLOT}" in assistant.stdout
    finally:
        executor.send_signal(signal.SIGTERM)
        try:
            executor.wait(30)
        except subprocess.TimeoutExpired:
            executor.kill()
            executor.wait()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    assert executor.returncode == 0, log.read_text()
    assert f"Executor:\nsaved {PLOT}" in log.read_text()
    assert plots(assistant_tmp) == []  # the code ran in the other process's sandbox
    [plot] = plots(executor_tmp)
    assert_png(plot)
