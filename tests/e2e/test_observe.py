"""Metrics of a real stack: every replica's /metrics endpoint, and Prometheus scraping them all.

The session's compose stack (one assistant, three executors) serves metrics by default on
port 9464 of each container, on the stack's network only: the first test reads each endpoint
from inside its own container (``docker exec``: no port is published, and the test's traffic
stays on loopback), before and after one task. The second (marked ``prometheus``: its image is
built from Debian's package, ``make test-prometheus``) adds ``--profile observe`` to the same
stack: Prometheus must find every replica through compose's DNS and scrape it, and the streams
exporter must report the topics' lag and pending; Prometheus's API is on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .stack import Stack, image_present, run

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

PROMPT = "Print a number.\n\n```python\nprint(6 * 7)\n```\n"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _scrape(container: str) -> Samples:
    """The container's own /metrics, read from inside it."""
    code = (
        "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
        "'http://127.0.0.1:9464/metrics', timeout=10).read().decode())"
    )
    done = subprocess.run(
        ["docker", "exec", container, "python", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(done.stdout)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _sum(samples: Samples, name: str, **labels: str) -> float:
    """Over every label set that has ``labels``."""
    want = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and want <= set(lbl))


async def _one_task(stack: Stack) -> None:
    async with stack.client() as client:
        session = await client.submit(PROMPT)
        result = await client.wait(session, timeout=180)
    assert result.status == "completed", result


async def test_every_replica_serves_its_metrics(stack: Stack) -> None:
    assistants, executors = stack.containers("assistant"), stack.containers("executor")
    assert len(executors) == 3
    before = {c: _scrape(c) for c in assistants + executors}
    await _one_task(stack)
    after = {c: _scrape(c) for c in assistants + executors}

    def delta(containers: list[str], name: str, **labels: str) -> float:
        return sum(
            _sum(after[c], name, **labels) - _sum(before[c], name, **labels) for c in containers
        )

    handled = "agent_streams_messages_handled_total"
    assert delta(assistants, handled, group="assistant", type="TaskRequest", outcome="ok") == 1
    assert delta(assistants, handled, group="assistant", type="ExecutionResult", outcome="ok") == 1
    assert delta(assistants, "agent_streams_model_requests_total", outcome="ok") == 2
    assert delta(executors, handled, group="executor", type="ExecutionRequest", outcome="ok") == 1
    assert delta(executors, "agent_streams_executions_total", exit_code="0") == 1
    assert delta(executors, "agent_streams_execution_duration_seconds_count") == 1
    for container in executors:  # each replica reports its sandboxes (the Docker backend)
        states = {
            dict(labels)["state"]
            for (name, labels) in after[container]
            if name == "agent_streams_sandboxes"
        }
        assert states == {"busy", "idle", "spare"}
        assert _value(after[container], "agent_streams_sandboxes", state="busy") == 0


# -- Prometheus (--profile observe) ---------------------------------------------------------------


def _api(base: str, path: str, **params: str) -> Any:
    url = f"{base}/api/v1/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    return body["data"]


def _until(check: Any, what: str, timeout_s: float = 90.0) -> Any:
    """Poll Prometheus (a server in another container; its scrapes run on its own clock)."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1.0)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s (last: {last!r})")


def _query(base: str, promql: str) -> float | None:
    result = _api(base, "query", query=promql)["result"]
    return float(result[0]["value"][1]) if result else None


@pytest.mark.prometheus
async def test_prometheus_scrapes_every_replica_and_the_streams(stack: Stack) -> None:
    image = os.environ.get("TEST_PROMETHEUS_IMAGE", "agent-streams/prometheus:latest")
    if not image_present(image):
        pytest.fail(f"image {image} missing: make prometheus-image", pytrace=False)
    stack.env |= {"PROMETHEUS_IMAGE": image, "PROMETHEUS_PORT": ""}
    observe = ("--profile", "observe")
    try:
        stack.compose(*observe, "up", "--detach", "--no-build", "--wait", "--wait-timeout", "120",
                      "prometheus", "streams-exporter")  # fmt: skip
        base = "http://" + stack.compose(*observe, "port", "prometheus", "9090").strip()

        def targets() -> dict[str, list[str]] | None:
            active = _api(base, "targets")["activeTargets"]
            by_job: dict[str, list[str]] = {}
            for target in active:
                by_job.setdefault(target["labels"]["job"], []).append(target["health"])
            counts = {"assistant": 1, "executor": 3, "streams": 1}
            if all(by_job.get(job, []).count("up") == n for job, n in counts.items()):
                return by_job
            return None

        _until(targets, "every replica's target up (1 assistant, 3 executors, the exporter)")
        await _one_task(stack)
        handled = (
            'sum(agent_streams_messages_handled_total{job="executor",type="ExecutionRequest"})'
        )
        _until(lambda: _query(base, handled), "the executors' handled count in Prometheus")
        tasks = (
            f'agent_streams_group_lag{{stream="{stack.namespace}:topic:tasks",group="assistant"}}'
        )
        _until(lambda: _query(base, tasks) is not None, "the tasks stream's lag")
        pending = _query(
            base, f'agent_streams_group_pending{{stream="{stack.namespace}:topic:code"}}'
        )
        assert pending is not None
        assert _query(base, 'agent_streams_status_up{job="streams"}') == 1.0
    finally:
        stack.compose(*observe, "rm", "--stop", "--force", "--volumes", "prometheus",
                      "streams-exporter")  # fmt: skip
        # its named volume too (the stack's own `down --volumes` knows only the default profile)
        run(["docker", "volume", "rm", "--force", f"{stack.project}_prometheus-data"])
