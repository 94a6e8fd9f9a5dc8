"""exceptions.py: one error tree, as its docstring draws it; messages a user can act on."""

from __future__ import annotations

import re

import agent_streams.exceptions as errors
from agent_streams.exceptions import (
    AgentStreamsError,
    BadMessageError,
    ClientError,
    QueueFullError,
    RemoteHandlerError,
)


def test_the_tree_is_the_one_the_docstring_draws() -> None:
    drawn = re.findall(r"[├└]── (\w+)", errors.__doc__ or "")
    assert sorted(drawn) == sorted(n for n in errors.__all__ if n != "AgentStreamsError")
    for name in drawn:
        assert issubclass(getattr(errors, name), AgentStreamsError), name
    for name in ("UnknownMessageType", "UnsupportedVersion", "InvalidMessage"):
        assert issubclass(getattr(errors, name), BadMessageError)
    for name in ("RedisUnavailableError", "TaskRejectedError", "DeadLetterNotFound"):
        assert issubclass(getattr(errors, name), ClientError)


def test_bad_input_codes_are_distinct_machine_readable_names() -> None:
    kinds = [BadMessageError, *BadMessageError.__subclasses__()]
    codes = [k.code for k in kinds]
    assert len(set(codes)) == len(codes) == 4
    assert all(re.fullmatch(r"[a-z_]+", c) for c in codes)


def test_messages_say_what_happened_and_keep_the_details() -> None:
    full = QueueFullError("ns:topic:tasks", 120, 100)
    assert str(full).startswith("queue full: ns:topic:tasks has 120")
    assert "AGENT_STREAMS_QUEUE_LIMIT" in str(full)
    assert (full.backlog, full.limit) == (120, 100)
    remote = RemoteHandlerError("ValueError", "bad input")
    assert str(remote) == "ValueError: bad input"
    assert remote.error_type == "ValueError"
