"""DefaultTopicId: the topic a handler's replies go to unless it names another (autogen-core's
``_default_topic.py``). It reads the message being handled, so it lives beside the context,
not in ``_ids`` (which the context itself needs)."""

from __future__ import annotations

from ._context import current_context
from ._ids import TopicId

__all__ = ["DefaultTopicId"]


class DefaultTopicId(TopicId):
    """``TopicId("default", source)``; inside a handler the source defaults to the source of
    the message being handled, so replies stay in the same session (as in autogen-core)."""

    __slots__ = ()

    def __init__(self, type: str = "default", source: str | None = None) -> None:
        if source is None:
            ctx = current_context()
            source = ctx.topic_id.source if ctx is not None and ctx.topic_id else "default"
        super().__init__(type, source)
