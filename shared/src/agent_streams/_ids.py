"""Agent and topic identities, named as autogen-core names them.

A topic is ``TopicId(type, source)``: the type picks the stream, the source (a session id)
travels with the message and becomes the key of the agent that handles it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .keys import validate_name

__all__ = ["AgentId", "AgentType", "TopicId"]


@dataclass(frozen=True, slots=True)
class AgentType:
    type: str


@dataclass(frozen=True, slots=True)
class AgentId:
    """One agent instance: its registered ``type`` and a ``key`` (usually the topic source)."""

    type: str
    key: str

    def __init__(self, type: str | AgentType, key: str) -> None:
        object.__setattr__(self, "type", validate_name(_type_name(type), "agent type"))
        object.__setattr__(self, "key", validate_name(key, "agent key"))

    def __str__(self) -> str:
        return f"{self.type}/{self.key}"

    @classmethod
    def from_str(cls, value: str) -> AgentId:
        type_, sep, key = value.partition("/")
        if not sep:
            raise ValueError(f"invalid agent id {value!r}: expected 'type/key'")
        return cls(type_, key)


@dataclass(frozen=True, slots=True, eq=False)
class TopicId:
    """Where a message is published: ``type`` picks the stream, ``source`` the session.

    Equality is by value, so ``DefaultTopicId()`` equals the ``TopicId`` it stands for.
    """

    type: str
    source: str

    def __post_init__(self) -> None:
        validate_name(self.type, "topic type")
        validate_name(self.source, "topic source")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TopicId):
            return NotImplemented
        return (self.type, self.source) == (other.type, other.source)

    def __hash__(self) -> int:
        return hash((self.type, self.source))

    def __str__(self) -> str:
        return f"{self.type}/{self.source}"


def _type_name(value: str | AgentType) -> str:
    return value.type if isinstance(value, AgentType) else value
