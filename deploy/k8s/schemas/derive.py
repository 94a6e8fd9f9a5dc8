"""Derive JSON Schema files from CustomResourceDefinitions (KEDA's), for offline validation.

    uv run python deploy/k8s/schemas/derive.py CRD.yaml... --source "kedacore/keda v2.20.2 (commit)"

Each served version of each CRD becomes ``<kind>-<group>-<version>.json`` beside this script:
the CRD's ``openAPIV3Schema`` with ``apiVersion`` and ``kind`` pinned, ``metadata.name``
required, and every object that lists its ``properties`` (and neither allows more nor sets
``x-kubernetes-preserve-unknown-fields``) closed with ``additionalProperties: false``. That last
step is what ``kubectl apply`` does by default (field validation ``Strict``: an unknown field
is an error, not silently pruned), so a misspelt ``lagCount`` fails here as it would there.

Not checked offline: the CRD's CEL rules (``x-kubernetes-validations``), which only the API
server evaluates. See README.md here for where the CRDs come from and their licence.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent


def close_objects(node: Any) -> Any:
    """A copy of ``node`` with objects that list their properties closed (see module doc)."""
    if isinstance(node, list):
        return [close_objects(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: close_objects(value) for key, value in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def derive(crd: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, one per served version of ``crd``."""
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    schemas = {}
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = close_objects(version["schema"]["openAPIV3Schema"])
        properties = schema.setdefault("properties", {})
        properties["apiVersion"] = {"const": f"{group}/{version['name']}"}
        properties["kind"] = {"const": kind}
        properties["metadata"] = {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}},
        }
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
        schema["$comment"] = (
            f"Derived by deploy/k8s/schemas/derive.py from the CRD {crd['metadata']['name']} "
            f"({source}); Apache-2.0, see README.md"
        )
        name = f"{kind.lower()}-{group.replace('.', '_')}-{version['name']}.json"
        schemas[name] = schema
    return schemas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("crds", nargs="+", type=Path, help="CRD YAML files")
    parser.add_argument("--source", required=True, help="where the CRDs come from (release)")
    parser.add_argument("--out", type=Path, default=HERE, help="default: this folder")
    args = parser.parse_args(argv)
    for path in args.crds:
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            for name, schema in derive(doc, args.source).items():
                (args.out / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
                print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
