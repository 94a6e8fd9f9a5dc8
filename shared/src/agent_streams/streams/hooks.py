"""The runtime's one observation seam: what a tracer or a metrics exporter may see of it.

``RedisStreamsRuntime(settings, hooks=...)`` calls a ``RuntimeHooks`` at two points of its hot
paths, and nowhere else:

    publishing(topic, fields)   before an entry is written (``publish_message`` and
                                ``send_message``'s request): may add fields (the trace
                                context) and returns a context manager around the write
    delivering(group, env)      when a delivery of an entry starts, in the task that runs its
                                handler: returns a ``DeliveryScope`` (e.g. a span made current
                                for the handler), ended once with the delivery's outcome

Without hooks (the default) the runtime does not call anything: ``agent_streams.telemetry``
gives hooks only when tracing or metrics are switched on.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from .wire import Envelope

__all__ = ["DeliveryScope", "RuntimeHooks"]


class DeliveryScope(Protocol):
    def end(self, outcome: str | None, attempts: int) -> None:
        """The delivery is over: ``outcome`` as the runtime's ``handled`` log line says it
        (``ok``, ``dead_lettered``, ``cancelled``...), None when it did not finish (the worker
        was cancelled, or Redis refused a command and the entry was left pending);
        ``attempts``: deliveries counted, this one included."""
        ...


class RuntimeHooks(Protocol):
    def publishing(
        self, topic: str, fields: dict[str, str | bytes]
    ) -> AbstractContextManager[object]:
        """An entry for ``topic`` (a topic type; for a direct message, the recipient's inbox
        stream) is about to be written; ``fields`` may be added to. The context manager is
        exited when the write returned or failed."""
        ...

    def delivering(self, group: str, env: Envelope) -> DeliveryScope:
        """A delivery of ``env`` to consumer group ``group`` starts (see the module
        docstring)."""
        ...
