"""Message types <-> JSON, by a stable type name. Never pickle across a process boundary.

A message class may be a pydantic model, a dataclass, or a builtin (for ``send_message``
replies). Its wire name is ``__agent_streams_type__`` if set, else the class name; its schema
version is the class attribute ``schema_version`` (default 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .exceptions import InvalidMessage, UnknownMessageType, UnsupportedVersion

__all__ = ["MessageRegistry", "schema_version", "type_name"]

NONE_TYPE = "None"


def type_name(cls: type[Any]) -> str:
    name = getattr(cls, "__agent_streams_type__", None)
    return name if isinstance(name, str) else cls.__name__


def schema_version(cls: type[Any]) -> int:
    version = getattr(cls, "schema_version", 1)
    return version if isinstance(version, int) else 1


@dataclass(frozen=True, slots=True)
class _Entry:
    cls: type[Any]
    adapter: TypeAdapter[Any]
    version: int


class MessageRegistry:
    """Known message types by wire name; a runtime registers every type its handlers take."""

    def __init__(self) -> None:
        self._by_name: dict[str, _Entry] = {}
        self._by_cls: dict[type[Any], _Entry] = {}
        for builtin in (str, int, float, bool, dict, list):
            self.register(builtin)

    def register(self, cls: type[Any]) -> None:
        if cls in self._by_cls or cls is type(None):
            return
        name = type_name(cls)
        existing = self._by_name.get(name)
        if existing is not None and existing.cls is not cls:
            raise ValueError(
                f"two message classes share the wire name {name!r}: {existing.cls!r} and {cls!r}; "
                "set __agent_streams_type__ on one of them"
            )
        entry = _Entry(cls, TypeAdapter(cls), schema_version(cls))
        self._by_name[name] = entry
        self._by_cls[cls] = entry

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def encode(self, message: Any) -> tuple[str, bytes, int]:
        """Returns (type name, JSON body, schema version)."""
        if message is None:
            return NONE_TYPE, b"null", 1
        cls = type(message)
        entry = self._by_cls.get(cls)
        if entry is None:
            self.register(cls)
            entry = self._by_cls[cls]
        # exclude_unset: what the sender did not set stays unset, so the receiver's defaults
        # (e.g. an operator's max_turns) apply instead of the sender's library defaults.
        return type_name(cls), entry.adapter.dump_json(message, exclude_unset=True), entry.version

    def decode(self, name: str, body: bytes | str, version: int = 1) -> Any:
        """Validates ``body`` as the type called ``name``; raises a ``BadMessageError``."""
        if name == NONE_TYPE:
            return None
        entry = self._by_name.get(name)
        if entry is None:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise UnknownMessageType(
                f"unknown message type {name!r} (this consumer knows: {known})"
            )
        if version > entry.version:
            raise UnsupportedVersion(
                f"{name} version {version} is newer than this consumer supports "
                f"(up to {entry.version}); upgrade the consumer"
            )
        try:
            return entry.adapter.validate_json(body)
        except ValidationError as exc:
            raise InvalidMessage(f"{name}: {_summarise(exc)}") from exc


def _summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
