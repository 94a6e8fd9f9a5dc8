"""Subscriptions: which agent type receives which topic type, as in autogen-core."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ._ids import AgentId, TopicId
from .keys import validate_name

__all__ = ["DefaultSubscription", "TypeSubscription", "default_subscription", "type_subscription"]

_SUBS_ATTR = "__agent_streams_subscriptions__"
T = TypeVar("T", bound=type[Any])


@dataclass(frozen=True, slots=True)
class TypeSubscription:
    """Topic type -> agent type; the topic source becomes the agent key.

    On Redis this is one consumer group (named after the agent type) on the topic's stream.
    """

    topic_type: str
    agent_type: str

    def __post_init__(self) -> None:
        validate_name(self.topic_type, "topic type")
        validate_name(self.agent_type, "agent type")

    def is_match(self, topic_id: TopicId) -> bool:
        return topic_id.type == self.topic_type

    def map_to_agent(self, topic_id: TopicId) -> AgentId:
        return AgentId(self.agent_type, topic_id.source)


def DefaultSubscription(agent_type: str, topic_type: str = "default") -> TypeSubscription:
    """The subscription autogen-core's ``@default_subscription`` makes: topic ``default``."""
    return TypeSubscription(topic_type=topic_type, agent_type=agent_type)


SubscriptionFactory = Callable[[str], TypeSubscription]


def _add(cls: T, factory: SubscriptionFactory) -> T:
    existing: list[SubscriptionFactory] = list(cls.__dict__.get(_SUBS_ATTR, []))
    existing.append(factory)
    setattr(cls, _SUBS_ATTR, existing)
    return cls


@overload
def default_subscription(cls: T) -> T: ...
@overload
def default_subscription(cls: None = None, *, topic_type: str = "default") -> Callable[[T], T]: ...
def default_subscription(
    cls: T | None = None, *, topic_type: str = "default"
) -> T | Callable[[T], T]:
    """Class decorator: the agent type receives messages published to the ``default`` topic."""

    def decorate(target: T) -> T:
        return _add(target, lambda agent_type: DefaultSubscription(agent_type, topic_type))

    return decorate(cls) if cls is not None else decorate


def type_subscription(topic_type: str) -> Callable[[T], T]:
    """Class decorator: the agent type receives messages published to ``topic_type``."""
    validate_name(topic_type, "topic type")

    def decorate(target: T) -> T:
        return _add(target, lambda agent_type: TypeSubscription(topic_type, agent_type))

    return decorate


def class_subscriptions(cls: type[Any], agent_type: str) -> list[TypeSubscription]:
    subs: list[TypeSubscription] = []
    for klass in reversed(cls.__mro__):
        for factory in klass.__dict__.get(_SUBS_ATTR, []):
            subs.append(factory(agent_type))
    return subs
