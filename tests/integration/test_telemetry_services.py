"""One task is one trace across the real services, as processes; their /metrics endpoints.

``agent-streams-assistant`` (the scripted FAKE model server of the e2e tests, over HTTP) and
``agent-streams-executor`` (local backend) run as child processes exporting OTLP/HTTP to a
receiver in this test (a real HTTP server decoding the protobuf export requests,
``_otlp_receiver``) and serving Prometheus metrics on loopback ports. One task with one code
block goes through; the test then checks the spans (one trace id from the assistant's delivery
of the task to the executor's run and back, linked parent to child across the processes) and
scrapes both endpoints over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent_streams.client import AgentStreamsClient
from agent_streams.streams import RuntimeSettings
from tests.integration._otlp_receiver import OtlpReceiver, ReceivedSpan

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FAKE_MODEL = ROOT / "tests" / "e2e" / "fake_model_server.py"
ASSISTANT, EXECUTOR = "agent-streams-assistant", "agent-streams-executor"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # (name, labels) -> value
PROMPT = "Compute 6 * 7.\n\n```python\nprint(6 * 7)\n```\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    namespace: str
    redis_url: str
    receiver: OtlpReceiver
    metrics: dict[str, int]  # service -> its metrics port
    procs: dict[str, subprocess.Popen[bytes]]
    logs: Path

    def tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-30:])

    def scrape(self, service: str) -> Samples:
        url = f"http://127.0.0.1:{self.metrics[service]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp_path = tmp_path_factory.mktemp("telemetry")
    namespace = f"otel-{uuid.uuid4().hex[:10]}"
    model_port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_STREAMS_", "OTEL_"))}
    base |= {
        "AGENT_STREAMS_REDIS_URL": redis_url,
        "AGENT_STREAMS_NAMESPACE": namespace,
        "AGENT_STREAMS_LOG_JSON": "true",
        "PYTHONUNBUFFERED": "1",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within 0.2 s (default 5 s)
    }
    with OtlpReceiver() as receiver:
        traced = base | {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        metrics = {ASSISTANT: _free_port(), EXECUTOR: _free_port()}
        envs = {
            "fake-model": base,
            ASSISTANT: traced
            | {
                "AGENT_STREAMS_METRICS_PORT": str(metrics[ASSISTANT]),
                "AGENT_STREAMS_MODEL_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
                "AGENT_STREAMS_MODEL_NAME": "fake-model",
            },
            EXECUTOR: traced
            | {
                "AGENT_STREAMS_METRICS_PORT": str(metrics[EXECUTOR]),
                "EXECUTOR_BACKEND": "local",
                "EXECUTOR_LOCAL_ROOT_DIR": str(tmp_path / "sandboxes"),
                "EXECUTOR_WARM_SPARES": "0",
                "EXECUTOR_PRELOAD_MODULES": "[]",
                "EXECUTOR_PRELOAD_LAZY_MODULES": "[]",
            },
        }
        argv = {
            "fake-model": [sys.executable, str(FAKE_MODEL), "--port", str(model_port)],
            ASSISTANT: [str(BIN / ASSISTANT)],
            EXECUTOR: [str(BIN / EXECUTOR)],
        }
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name in argv:
                with (tmp_path / f"{name}.log").open("wb") as out:
                    procs[name] = subprocess.Popen(
                        argv[name], env=envs[name], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
                    )
            yield Stack(namespace, redis_url, receiver, metrics, procs, tmp_path)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@pytest.fixture(scope="module")
def session(stack: Stack) -> str:
    """One task through both services (the tests below look at what it left)."""
    return asyncio.run(_run_task(stack))


async def _run_task(stack: Stack) -> str:
    settings = RuntimeSettings(redis_url=stack.redis_url, namespace=stack.namespace)
    async with AgentStreamsClient(settings) as client:
        session = await client.submit(PROMPT)
        try:
            result = await client.wait(session, timeout=60)
        except TimeoutError:
            logs = "\n".join(f"--- {n}\n{stack.tail(n)}" for n in stack.procs)
            pytest.fail(f"no result for {session} within 60 s:\n{logs}")
    assert result.status == "completed", result
    return session


def _named(spans: list[ReceivedSpan], service: str, name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.service == service and s.name == name]


WANTED = [  # (service, span name): the task's path through both processes
    (ASSISTANT, "handle TaskRequest"),
    (ASSISTANT, "chat fake-model"),
    (ASSISTANT, "publish code"),
    (EXECUTOR, "handle ExecutionRequest"),
    (EXECUTOR, "execute"),
    (EXECUTOR, "sandbox start"),
    (EXECUTOR, "run"),
    (EXECUTOR, "publish results"),
    (ASSISTANT, "handle ExecutionResult"),
    (ASSISTANT, "publish outcomes"),
]


def test_one_task_is_one_trace_across_the_assistant_and_executor_processes(
    stack: Stack, session: str
) -> None:
    def complete(spans: list[ReceivedSpan]) -> bool:
        return all(_named(spans, svc, name) for svc, name in WANTED)

    try:
        spans = stack.receiver.wait_for(complete, timeout_s=30)
    except TimeoutError as exc:
        pytest.fail(f"not every span arrived: {exc}")
    task = [s for s in spans if s.attributes.get("agent_streams.session") == session]
    traced = {s.trace_id for s in task} | {
        s.trace_id for svc, name in WANTED for s in _named(spans, svc, name)
    }
    assert len(traced) == 1, f"the task's spans are in {len(traced)} traces: {traced}"
    assert {s.service for s in spans if s.trace_id in traced} == {ASSISTANT, EXECUTOR}

    # Linked across the processes: the executor's delivery is a child of the assistant's
    # publish of the request, and the assistant's next delivery a child of the executor's.
    (publish_code,) = _named(spans, ASSISTANT, "publish code")
    handles = {
        s.attributes["messaging.consumer.group.name"]: s
        for s in _named(spans, EXECUTOR, "handle ExecutionRequest")
    }  # the executor's group runs it; the canceller's group takes it too (and acks it)
    assert set(handles) == {"executor", "executor-cancel"}
    assert {s.parent_span_id for s in handles.values()} == {publish_code.span_id}
    handle_request = handles["executor"]
    assert handle_request.kind == "CONSUMER"
    assert publish_code.kind == "PRODUCER"
    (publish_result,) = _named(spans, EXECUTOR, "publish results")
    (handle_result,) = _named(spans, ASSISTANT, "handle ExecutionResult")
    assert handle_result.parent_span_id == publish_result.span_id
    # ... and in each process, the work hangs under its delivery.
    by_id = {s.span_id: s for s in spans}
    (execute,) = _named(spans, EXECUTOR, "execute")
    (run,) = _named(spans, EXECUTOR, "run")
    assert execute.parent_span_id == handle_request.span_id
    assert by_id[run.parent_span_id].name == "execute"
    assert run.attributes["process.exit.code"] == 0
    (handle_task,) = _named(spans, ASSISTANT, "handle TaskRequest")
    chats = _named(spans, ASSISTANT, "chat fake-model")
    assert {c.parent_span_id for c in chats} == {handle_task.span_id, handle_result.span_id}
    assert all(c.attributes["gen_ai.usage.output_tokens"] > 0 for c in chats)
    # the client publishes without tracing: the task's delivery starts the trace
    assert handle_task.parent_span_id == ""


def test_each_service_serves_its_metrics(stack: Stack, session: str) -> None:
    assistant = stack.scrape(ASSISTANT)
    executor = stack.scrape(EXECUTOR)

    def value(samples: Samples, name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    handled = "agent_streams_messages_handled_total"
    assert value(assistant, handled, group="assistant", type="TaskRequest", outcome="ok") == 1
    assert value(assistant, handled, group="assistant", type="ExecutionResult", outcome="ok") == 1
    assert value(executor, handled, group="executor", type="ExecutionRequest", outcome="ok") == 1
    assert (
        value(
            assistant,
            "agent_streams_handle_duration_seconds_count",
            group="assistant",
            type="TaskRequest",
        )
        == 1
    )
    assert (
        value(assistant, "agent_streams_model_requests_total", model="fake-model", outcome="ok")
        == 2
    )
    assert (
        value(assistant, "agent_streams_model_tokens_total", model="fake-model", kind="completion")
        > 0
    )
    assert value(executor, "agent_streams_executions_total", exit_code="0") == 1
    assert value(executor, "agent_streams_execution_duration_seconds_count") == 1
    assert value(executor, "agent_streams_sandbox_start_duration_seconds_count") == 1
    # the session's sandbox stays warm after its run (idle), none busy, no spares configured
    assert value(executor, "agent_streams_sandboxes", state="idle") == 1
    assert value(executor, "agent_streams_sandboxes", state="busy") == 0
    assert value(executor, "agent_streams_sandboxes", state="spare") == 0
    assert value(executor, "process_cpu_seconds_total") > 0  # prometheus-client's own
