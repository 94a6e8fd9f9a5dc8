"""One logging pipeline: structlog and stdlib records come out the same, JSON off a terminal.

structlog lines and stdlib records (any module's ``logging.getLogger(...)``: the executor's
code executors, redis-py, docker, httpx) go through the same processors and the same
renderer, so a JSON log holds only JSON lines. While a handler runs, every line, from any
module, carries the message's ``session``, ``agent`` and ``message_id`` (read from the context
variable the runtimes set per message, ``_context.current_handling``), so no call passes them
by hand. One canonical line per handled message (the runtime's ``handled``).

Never log secrets, whole prompts or code: log sizes and hashes instead.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from ._context import current_handling

__all__ = ["add_message_context", "configure_logging"]


def add_message_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the handled message's session, agent and message id, when a
    handler is running (explicit values in the call win)."""
    handling = current_handling()
    if handling is not None:
        agent_id, ctx = handling
        topic = ctx.topic_id
        event_dict.setdefault("session", topic.source if topic is not None else agent_id.key)
        event_dict.setdefault("agent", str(agent_id))
        event_dict.setdefault("message_id", ctx.message_id)
    return event_dict


def configure_logging(
    level: str = "INFO",
    *,
    json: bool | None = None,
    service: str = "",
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and stdlib logging once per process.

    Args:
        level: minimum level, for both; below it a structlog call costs almost nothing.
        json: force JSON (True) or console (False) output; default: JSON unless stderr is a TTY.
        service: bound into every line as ``service``.
        stream: where the lines go (default: ``sys.stderr``).
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    out = stream or sys.stderr
    as_json = json if json is not None else not out.isatty()
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_message_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=True,
    )
    # stdlib records: rendered by the same processors (plus the logger's name and the
    # record's own arguments), through one handler on the root logger.
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    if service:
        structlog.contextvars.bind_contextvars(service=service)
