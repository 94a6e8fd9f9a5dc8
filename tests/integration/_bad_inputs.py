"""The bad-input catalogue: hostile and malformed stream entries, each with the answer it must get.

Used by ``test_bad_input_suite.py``, which sends them to the real services. ``{S}`` in a value is
replaced by the case's own session id, ``{NS}`` by the namespace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ERROR_CODES", "GOOD_CODE", "GROUPS", "Case", "Fields", "cases"]

# Consumer groups per target: every group that reads the stream answers bad input on its own.
GROUPS = {
    "tasks": ("assistant",),
    "code": ("executor", "executor-cancel"),
    "results": ("assistant",),
    "inbox:assistant": ("assistant",),
    "inbox:executor": ("executor",),
}
GOOD_CODE = "\n```python\nprint(6 * 7)\n```\n"
ERROR_CODES = ("invalid_message", "unknown_type", "unsupported_version", "handler_failed")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def task(**body: Any) -> bytes:
    return json.dumps(body).encode()


Fields = list[tuple[bytes, bytes]]


def entry(type_: str | bytes, body: str | bytes, source: str | bytes | None = "{S}") -> Fields:
    """The usual fields; ``{S}`` is replaced by the case's own session id."""
    fields: Fields = [(b"type", _b(type_)), (b"body", _b(body))]
    if source is not None:
        fields.append((b"source", _b(source)))
    return fields


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@dataclass(frozen=True)
class Case:
    """One hostile entry and the answer it must get.

    ``expect``: an error code (the errors stream, once per consumer group of the target, each
    with a dead letter, and an ``Error`` in the session log when ``{S}`` is the source); or
    ``result:<status>`` (the task's own ``TaskResult`` in the session log); ``exec:<text>`` (an
    ``ExecutionResult`` whose output says ``<text>``); ``once`` (sent twice with one id: one
    task, one result); ``replayed`` (an ``ExecutionRequest`` sent twice with one id: run once,
    answered twice with the same result); ``ignored`` (valid input the service logs and drops,
    documented in the table).
    """

    name: str
    target: str
    fields: Fields
    expect: str
    via: str = "redis-py"
    repeat: int = 1
    note: str = ""


def cases() -> list[Case]:
    big_files = [{"name": f"f{i}.txt", "content_b64": ""} for i in range(10_000)]
    blocks = [{"code": "print(1)", "language": "python"} for _ in range(10_000)]
    code_req = {"turn": 1, "code_blocks": [{"code": "print(1)", "language": "python"}]}
    ok_result = {"turn": 1, "request_id": "r1", "exit_code": 0, "output": "ok"}
    cli = "redis-cli"
    c = Case
    return [
        # -- the tasks topic (the Assistant) --------------------------------------------------
        c("truncated JSON", "tasks", entry("TaskRequest", '{"prompt": '), "invalid_message", cli),
        c("body is not JSON", "tasks", entry("TaskRequest", "hello"), "invalid_message"),
        c("empty body", "tasks", entry("TaskRequest", ""), "invalid_message", cli),
        c("body null", "tasks", entry("TaskRequest", "null"), "invalid_message"),
        c("body is an array", "tasks", entry("TaskRequest", "[]"), "invalid_message", cli),
        c("body is a string", "tasks", entry("TaskRequest", '"do it"'), "invalid_message"),
        c("unknown type", "tasks", entry("TaskRequestV2", task(prompt="x")), "unknown_type", cli),
        c("empty type", "tasks", entry("", task(prompt="x")), "invalid_message"),
        c(
            "type with a NUL byte",
            "tasks",
            entry(b"Task\x00Request", task(prompt="x")),
            "unknown_type",
        ),
        c(
            "missing type field",
            "tasks",
            [(b"body", task(prompt="x")), (b"source", b"{S}")],
            "invalid_message",
            cli,
        ),
        c(
            "missing body field",
            "tasks",
            [(b"type", b"TaskRequest"), (b"source", b"{S}")],
            "invalid_message",
        ),
        c(
            "missing source",
            "tasks",
            entry("TaskRequest", task(prompt="x"), source=None),
            "invalid_message",
            cli,
        ),
        c(
            "wrong field names (typ, bdy)",
            "tasks",
            [(b"typ", b"TaskRequest"), (b"bdy", task(prompt="x")), (b"source", b"{S}")],
            "invalid_message",
        ),
        c(
            "field names in capitals",
            "tasks",
            [(b"Type", b"TaskRequest"), (b"Body", task(prompt="x")), (b"Source", b"{S}")],
            "invalid_message",
            cli,
        ),
        c(
            "extra entry field",
            "tasks",
            [*entry("TaskRequest", task(prompt="x")), (b"priority", b"urgent")],
            "invalid_message",
        ),
        c(
            "1,000 unknown fields",
            "tasks",
            [*entry("TaskRequest", task(prompt="x")), *((b"f%d" % i, b"v") for i in range(1000))],
            "invalid_message",
        ),
        c("missing prompt", "tasks", entry("TaskRequest", "{}"), "invalid_message", cli),
        c("prompt is a number", "tasks", entry("TaskRequest", task(prompt=42)), "invalid_message"),
        c(
            "extra JSON field",
            "tasks",
            entry("TaskRequest", task(prompt="x", evil=True)),
            "invalid_message",
            cli,
        ),
        c(
            "max_turns=-1",
            "tasks",
            entry("TaskRequest", task(prompt="x", max_turns=-1)),
            "invalid_message",
            cli,
        ),
        c(
            "max_turns='many'",
            "tasks",
            entry("TaskRequest", task(prompt="x", max_turns="many")),
            "invalid_message",
        ),
        c(
            "max_turns=10**100",
            "tasks",
            entry("TaskRequest", '{"prompt": "x", "max_turns": 1' + "0" * 100 + "}"),
            "invalid_message",
            cli,
        ),
        c(
            "timeout_s=1e12",
            "tasks",
            entry("TaskRequest", task(prompt="x", timeout_s=1e12)),
            "invalid_message",
            cli,
        ),
        c(
            "timeout_s=NaN",
            "tasks",
            entry("TaskRequest", '{"prompt": "x", "timeout_s": NaN}'),
            "invalid_message",
        ),
        c(
            "execution.timeout_s=-5",
            "tasks",
            entry("TaskRequest", task(prompt="x", execution={"timeout_s": -5})),
            "invalid_message",
        ),
        c(
            "10,000 input files",
            "tasks",
            entry("TaskRequest", task(prompt="x", files=big_files)),
            "invalid_message",
        ),
        c(
            "input file named ../../etc/passwd",
            "tasks",
            entry("TaskRequest", task(prompt="x", files=[{"name": "../../etc/passwd"}])),
            "invalid_message",
            cli,
        ),
        c(
            "prompt of 250,000 characters",
            "tasks",
            entry("TaskRequest", task(prompt="x" * 250_000)),
            "invalid_message",
        ),
        c(
            "2 MiB body",
            "tasks",
            entry("TaskRequest", task(prompt="x" * (2 * 2**20))),
            "invalid_message",
            cli,
        ),
        c(
            "10,000 nested arrays as the body",
            "tasks",
            entry("TaskRequest", nested(10_000)),
            "invalid_message",
        ),
        c(
            "10,000 nested arrays in a field",
            "tasks",
            entry("TaskRequest", '{"prompt": "x", "files": ' + nested(10_000) + "}"),
            "invalid_message",
            cli,
        ),
        c(
            "invalid UTF-8 in the body",
            "tasks",
            entry("TaskRequest", b'{"prompt": "\xff\xfe"}'),
            "invalid_message",
        ),
        c(
            "invalid UTF-8 in the source",
            "tasks",
            entry("TaskRequest", task(prompt="x"), source=b"s-\xff"),
            "invalid_message",
        ),
        c(
            "invalid UTF-8 in a field name",
            "tasks",
            [(b"\xfftype", b"TaskRequest"), (b"body", task(prompt="x")), (b"source", b"{S}")],
            "invalid_message",
        ),
        c(
            "lone surrogate in the prompt",
            "tasks",
            entry("TaskRequest", '{"prompt": "\\ud800"}'),
            "invalid_message",
        ),
        c(
            "schema version 2 (newer)",
            "tasks",
            [*entry("TaskRequest", task(prompt="x")), (b"v", b"2")],
            "unsupported_version",
            cli,
        ),
        c(
            "schema version 'abc'",
            "tasks",
            [*entry("TaskRequest", task(prompt="x")), (b"v", b"abc")],
            "invalid_message",
        ),
        c(
            "source with spaces and ':'",
            "tasks",
            entry("TaskRequest", task(prompt="x"), source="a b:c"),
            "invalid_message",
            cli,
        ),
        c(
            "source of 10,000 characters",
            "tasks",
            entry("TaskRequest", task(prompt="x"), source="s" * 10_000),
            "invalid_message",
        ),
        c(
            "malformed sender",
            "tasks",
            [*entry("TaskRequest", task(prompt="x")), (b"sender", b"nobody")],
            "invalid_message",
            cli,
        ),
        c(
            "TaskResult sent to tasks (no handler)",
            "tasks",
            entry("TaskResult", task(status="completed")),
            "ignored",
            note="a known type the subscriber has no handler for is acked, logged at debug",
        ),
        c(
            "forged sender: another agent",
            "tasks",
            [*entry("TaskRequest", task(prompt="run " + GOOD_CODE)), (b"sender", b"executor/x")],
            "result:completed",
            cli,
        ),
        c(
            "forged sender: the recipient itself",
            "tasks",
            [*entry("TaskRequest", task(prompt="x")), (b"sender", b"assistant/{S}")],
            "ignored",
            note="a publisher never receives its own publish; `sender` is not authenticated",
        ),
        c(
            "cancel of an unknown session",
            "tasks",
            entry("CancelTask", task(reason="never started")),
            "result:cancelled",
            cli,
        ),
        c(
            "replayed message id (same task twice)",
            "tasks",
            [*entry("TaskRequest", task(prompt="run " + GOOD_CODE)), (b"id", b"{S}-task")],
            "once",
            repeat=2,
        ),
        # -- the code topic (the Executor and its canceller) ------------------------------------
        c("code: truncated JSON", "code", entry("ExecutionRequest", "{"), "invalid_message", cli),
        c("code: unknown type", "code", entry("RunThis", "{}"), "unknown_type"),
        c(
            "code: no code blocks",
            "code",
            entry("ExecutionRequest", task(turn=1, code_blocks=[])),
            "invalid_message",
            cli,
        ),
        c(
            "code: 10,000 code blocks",
            "code",
            entry("ExecutionRequest", task(turn=1, code_blocks=blocks)),
            "invalid_message",
        ),
        c(
            "code: timeout_s=1e12",
            "code",
            entry("ExecutionRequest", task(**code_req, options={"timeout_s": 1e12})),
            "invalid_message",
            cli,
        ),
        c(
            "code: turn=-1",  # turn 0 is the Assistant's description of the input files
            "code",
            entry("ExecutionRequest", task(turn=-1, code_blocks=code_req["code_blocks"])),
            "invalid_message",
        ),
        c(
            "code: TaskRequest on the code topic",
            "code",
            entry("TaskRequest", task(prompt="x")),
            "ignored",
            cli,
            note="a known type the subscriber has no handler for is acked, logged at debug",
        ),
        c(
            "code: unknown language",
            "code",
            entry(
                "ExecutionRequest",
                task(turn=1, code_blocks=[{"code": "DISPLAY 'HI'.", "language": "cobol"}]),
            ),
            "exec:cobol",
            cli,
        ),
        c(
            "code: input file never uploaded",
            "code",
            entry(
                "ExecutionRequest", task(**code_req, files=[{"name": "a.csv", "digest": "0" * 64}])
            ),
            "exec:could not be placed",
        ),
        c(
            "code: input file not base64",
            "code",
            entry("ExecutionRequest", task(**code_req, files=[{"name": "a", "content_b64": "!!"}])),
            "exec:not valid base64",
        ),
        c(
            "code: replayed request id",
            "code",
            [*entry("ExecutionRequest", task(**code_req)), (b"id", b"{S}-run")],
            "replayed",
            repeat=2,
        ),
        # -- the results topic (the Assistant) ------------------------------------------------
        c("results: bad JSON", "results", entry("ExecutionResult", "{]"), "invalid_message", cli),
        c(
            "results: negative duration",
            "results",
            entry("ExecutionResult", task(**ok_result, duration_s=-1)),
            "invalid_message",
        ),
        c(
            "results: missing request_id",
            "results",
            entry("ExecutionResult", task(turn=1, exit_code=0, output="")),
            "invalid_message",
            cli,
        ),
        c(
            "results: result for an unknown session",
            "results",
            entry("ExecutionResult", task(**ok_result)),
            "ignored",
            note="the assistant logs result_for_unknown_session (warning)",
        ),
        # -- agent inboxes (direct messages) ---------------------------------------------------
        c(
            "inbox: bad JSON",
            "inbox:assistant",
            [(b"type", b"TaskRequest"), (b"body", b"{"), (b"key", b"{S}")],
            "invalid_message",
            cli,
        ),
        c(
            "inbox: unknown type",
            "inbox:executor",
            [(b"type", b"Nope"), (b"body", b"{}"), (b"key", b"{S}")],
            "unknown_type",
        ),
        c(
            "inbox: key with ':'",
            "inbox:executor",
            [(b"type", b"CancelTask"), (b"body", b"{}"), (b"key", b"a:b")],
            "invalid_message",
            cli,
        ),
        c(
            "inbox: reply_to outside the namespace",
            "inbox:assistant",
            [
                (b"type", b"CancelTask"),
                (b"body", b"{}"),
                (b"key", b"{S}"),
                (b"reply_to", b"elsewhere:stream"),
            ],
            "invalid_message",
        ),
        c(
            "inbox: reply_to = the tasks topic",
            "inbox:assistant",
            [
                (b"type", b"CancelTask"),
                (b"body", b"{}"),
                (b"key", b"{S}"),
                (b"reply_to", b"{NS}:topic:tasks"),
            ],
            "invalid_message",
            cli,
        ),
    ]
