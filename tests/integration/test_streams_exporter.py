"""``agent-streams-exporter`` as a process: the admin view's gauges over HTTP, and a Redis that
does not answer reported as ``agent_streams_status_up 0`` rather than a dead endpoint."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from agent_streams.keys import Keys

pytestmark = [pytest.mark.redis, pytest.mark.timeout(60)]

EXPORTER = Path(sys.executable).parent / "agent-streams-exporter"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def exporter(redis_url: str, namespace: str, log: Path) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_STREAMS_")}
    env |= {
        "AGENT_STREAMS_REDIS_URL": redis_url,
        "AGENT_STREAMS_NAMESPACE": namespace,
        "AGENT_STREAMS_METRICS_PORT": str(port),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen([str(EXPORTER)], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        while True:  # a process starting up: its port answers once it serves
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the exporter did not serve:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def _scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_the_streams_lag_pending_and_length(
    redis_url: str, namespace: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    keys = Keys(namespace)
    tasks = keys.topic("tasks")
    await redis_client.xgroup_create(tasks, "assistant", id="0", mkstream=True)
    for n in range(5):
        await redis_client.xadd(tasks, {"type": "TaskRequest", "body": "{}", "source": f"s{n}"})
    await redis_client.xreadgroup("assistant", "c1", {tasks: ">"}, count=2)  # 2 pending, 3 lag
    await redis_client.xadd(keys.dead_letters, {"error": "x"})
    with exporter(redis_url, namespace, tmp_path / "exporter.log") as url:
        samples = _scrape(url)
    labels = (("group", "assistant"), ("stream", tasks))
    assert samples[("agent_streams_group_lag", labels)] == 3
    assert samples[("agent_streams_group_pending", labels)] == 2
    assert samples[("agent_streams_group_consumers", labels)] == 1
    length = (("kind", "topic"), ("name", "tasks"), ("stream", tasks))
    assert samples[("agent_streams_stream_length", length)] == 5
    assert samples[("agent_streams_dead_letters_stream_length", ())] == 1
    assert samples[("agent_streams_status_up", ())] == 1


def test_an_unreachable_redis_is_a_metric_not_a_dead_endpoint(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    with exporter(closed, "nowhere", tmp_path / "exporter.log") as url:
        samples = _scrape(url)
    assert samples[("agent_streams_status_up", ())] == 0
    assert not any(name == "agent_streams_group_lag" for name, _ in samples)
