"""structlog set-up: one canonical line per handled message, JSON when not on a terminal.

Never log secrets, whole prompts or code: log sizes and hashes instead.
"""

from __future__ import annotations

import logging
import sys

import structlog

__all__ = ["configure_logging"]


def configure_logging(level: str = "INFO", *, json: bool | None = None, service: str = "") -> None:
    """Configure structlog (and stdlib logging) once per process.

    Args:
        level: minimum level; below it a log call costs almost nothing.
        json: force JSON (True) or console (False) output; default: JSON unless stderr is a TTY.
        service: bound into every line as ``service``.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    as_json = json if json is not None else not sys.stderr.isatty()
    processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(
        level=numeric, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)
