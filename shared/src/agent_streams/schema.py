"""JSON Schema for every contract message, so non-Python clients can validate.

``python -m agent_streams.schema docs/schemas`` writes one ``<Type>.json`` per message; a test
checks the committed files match the models. A schema's ``x-agent-streams`` block names the wire
type and version that go into the entry's ``type`` and ``v`` fields.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ._serialization import schema_version, type_name
from .messages import CONTRACT_MESSAGES

__all__ = ["message_schemas", "write_schemas"]


def message_schemas() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for cls in CONTRACT_MESSAGES:
        schema = cls.model_json_schema()
        schema["x-agent-streams"] = {"type": type_name(cls), "v": schema_version(cls)}
        out[type_name(cls)] = schema
    return out


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in message_schemas().items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(written)
