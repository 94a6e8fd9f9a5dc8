"""_subscription.py: topic type -> agent type, and the class decorators that declare them."""

from __future__ import annotations

import pytest

from agent_streams._ids import AgentId, TopicId
from agent_streams._subscription import (
    DefaultSubscription,
    TypeSubscription,
    class_subscriptions,
    default_subscription,
    type_subscription,
)


def test_a_subscription_matches_its_topic_type_and_maps_the_source_to_the_key() -> None:
    sub = TypeSubscription("tasks", "assistant")
    assert sub.is_match(TopicId("tasks", "s1"))
    assert not sub.is_match(TopicId("results", "s1"))
    assert sub.map_to_agent(TopicId("tasks", "s1")) == AgentId("assistant", "s1")
    assert DefaultSubscription("assistant") == TypeSubscription("default", "assistant")


def test_decorated_classes_subscribe_each_registered_type_and_inherit_their_bases() -> None:
    @default_subscription
    class Base:
        pass

    @type_subscription("code")
    @default_subscription(topic_type="extra")
    class Child(Base):
        pass

    assert class_subscriptions(Child, "worker") == [
        TypeSubscription("default", "worker"),
        TypeSubscription("extra", "worker"),
        TypeSubscription("code", "worker"),
    ]
    assert class_subscriptions(Base, "other") == [TypeSubscription("default", "other")]


def test_a_bad_topic_type_fails_when_the_class_is_decorated() -> None:
    with pytest.raises(ValueError, match="topic type"):
        type_subscription("a:b")
    with pytest.raises(ValueError, match="agent type"):
        TypeSubscription("tasks", "bad type")
