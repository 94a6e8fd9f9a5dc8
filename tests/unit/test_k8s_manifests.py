"""deploy/k8s: every overlay renders (kubectl kustomize) and validates offline against the
Kubernetes schemas, KEDA's CRD schemas and the deployment's rules (deploy/k8s/validate.py);
broken manifests are rejected, each for its reason; and the stream and group names in the
manifests are the ones the code uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_streams.keys import Keys
from agent_streams.messages import CODE_TOPIC, RESULTS_TOPIC, TASKS_TOPIC
from agent_streams_assistant.agent import AGENT_TYPE as ASSISTANT
from agent_streams_executor.agent import AGENT_TYPE as EXECUTOR
from agent_streams_executor.agent import CANCELLER_TYPE

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BROKEN = Path(__file__).with_name("k8s_broken")


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(K8S / "validate.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_overlay_renders_and_validates() -> None:
    done = validate()

    assert done.returncode == 0, done.stdout + done.stderr
    overlays = sorted(p.name for p in (K8S / "overlays").iterdir())
    assert len(overlays) >= 2
    for overlay in overlays:
        assert f"overlays/{overlay}: " in done.stdout
    assert done.stdout.count(" resources valid ") == len(overlays)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("deployment-bad-type.yaml", ["spec/replicas: 'two' is not of type 'integer'"]),
        ("deployment-bad-field.yaml", ["'terminationGracePeriod' was unexpected"]),
        ("scaledobject-bad-field.yaml", ["KEDA schema: spec:", "'maxReplicas' was unexpected"]),
        (
            "scaled-deployment-rules.yaml",
            [
                "Deployment/executor: scaled by KEDA, must not set replicas",
                "'lagcount' is not read by KEDA's redis-streams scaler",
                "trigger metadata holds password",
                "set one of lagCount / pendingEntriesCount",
                "authenticationRef 'missing-auth' is no TriggerAuthentication",
                "readinessProbe must run agent-streams-healthcheck",
                "livenessProbe must run agent-streams-healthcheck",
                "terminationGracePeriodSeconds 30 <= drain 30 s",
            ],
        ),
    ],
)
def test_a_broken_manifest_is_rejected(fixture: str, expected: list[str]) -> None:
    done = validate(str(BROKEN / fixture))

    assert done.returncode == 1, done.stdout + done.stderr
    for message in expected:
        assert message in done.stdout


def base(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / "base" / name).read_text()) if d]


def test_stream_and_group_names_are_the_codes() -> None:
    keys = Keys("agents")
    consumed = {
        EXECUTOR: {keys.topic(CODE_TOPIC)},
        ASSISTANT: {keys.topic(TASKS_TOPIC), keys.topic(RESULTS_TOPIC)},
    }
    scaled = {d["metadata"]["name"]: d for d in base("scaling.yaml") if d["kind"] == "ScaledObject"}
    assert set(scaled) == set(consumed)
    for agent_type, streams in consumed.items():
        triggers = [t["metadata"] for t in scaled[agent_type]["spec"]["triggers"]]
        assert {t["consumerGroup"] for t in triggers} == {agent_type}
        # per stream: one trigger on waiting work, one on work in flight
        for stream in streams:
            kinds = {k for t in triggers if t["stream"] == stream for k in t} & {
                "lagCount",
                "pendingEntriesCount",
            }
            assert kinds == {"lagCount", "pendingEntriesCount"}, stream
        assert {t["stream"] for t in triggers} == streams

    (script_map,) = [d for d in base("groups-job.yaml") if d["kind"] == "ConfigMap"]
    created = {
        tuple(line.split()[3:5])
        for line in script_map["data"]["create-groups.sh"].splitlines()
        if line.startswith("create ")
    }
    assert created == {
        (keys.topic(CODE_TOPIC), EXECUTOR),
        (keys.inbox(EXECUTOR), EXECUTOR),
        (keys.topic(CODE_TOPIC), CANCELLER_TYPE),
        (keys.inbox(CANCELLER_TYPE), CANCELLER_TYPE),
        (keys.topic(TASKS_TOPIC), ASSISTANT),
        (keys.topic(RESULTS_TOPIC), ASSISTANT),
        (keys.inbox(ASSISTANT), ASSISTANT),
    }
