"""The W3C trace context in stream entries: parsed strictly (it is input), written back alike."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanContext, TraceFlags

from agent_streams.streams.wire import parse_entry
from agent_streams.telemetry.tracing import format_traceparent, parse_traceparent

VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_valid_traceparent_is_the_remote_parent() -> None:
    context = parse_traceparent(VALID, "vendor=abc")
    assert context is not None
    assert context.is_remote
    assert context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert context.span_id == 0xB7AD6B7169203331
    assert context.trace_flags.sampled
    assert context.trace_state.get("vendor") == "abc"
    assert format_traceparent(context) == VALID


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        VALID.upper(),  # W3C: lowercase hex only
        VALID + "-extra",
        "01" + VALID[2:],  # an unknown version is not guessed at
        f"00-{0:032x}-b7ad6b7169203331-01",  # all-zero trace id: invalid
        f"00-0af7651916cd43dd8448eb211c80319c-{0:016x}-01",  # all-zero span id: invalid
        VALID + "\n",
    ],
)
def test_a_malformed_traceparent_is_no_parent(text: str) -> None:
    assert parse_traceparent(text) is None


def test_a_malformed_tracestate_is_dropped_not_raised() -> None:
    context = parse_traceparent(VALID, "=,=,not a state" * 100)
    assert context is not None
    assert not context.trace_state


def test_an_unsampled_context_says_so() -> None:
    context = SpanContext(1, 2, is_remote=False, trace_flags=TraceFlags(0))
    assert format_traceparent(context).endswith("-00")
    parsed = parse_traceparent(format_traceparent(context))
    assert parsed is not None
    assert not parsed.trace_flags.sampled


def test_entries_with_and_without_the_trace_fields_parse() -> None:
    old = {b"type": b"TaskRequest", b"body": b"{}", b"source": b"s1"}
    env = parse_entry("ns:topic:tasks", "1-0", old, max_body_bytes=1024)
    assert env.traceparent is None
    assert env.tracestate is None
    new = old | {b"traceparent": VALID.encode(), b"tracestate": b"vendor=abc"}
    env = parse_entry("ns:topic:tasks", "1-0", new, max_body_bytes=1024)
    assert env.traceparent == VALID
    assert env.tracestate == "vendor=abc"
