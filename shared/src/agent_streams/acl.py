"""Redis ACL users for one deployment: who may run which command on which key.

Each service connects as its own Redis user (``AGENT_STREAMS_REDIS_URL=redis://<user>:<password>@
redis:6379/0``) and may touch only the keys its code path needs, all under the namespace and all
derived from ``agent_streams.keys.Keys``. A user is a set of *grants*; each grant is rendered as
one ACL selector (``(~keys +commands)``), so a command is allowed only on the keys of a grant
that lists it: the executor may XACK the ``code`` topic but not XADD to it, and may XADD to
``results`` but not XREADGROUP there. Commands without keys (PING, MULTI, SCRIPT LOAD...) and the
cancel channel are the user's root permissions. Redis checks commands that run inside Lua scripts
against the same rules, so the publish script cannot be used to write elsewhere.

    assistant   consumes tasks, results and its inbox; publishes events, code, outcomes; owns
                its session state and deadline set; no blobs, no executor keys
    executor    consumes code and its inbox; publishes results and events; reads and writes
                blobs, its done: keys and its session state (running mark, file manifest);
                never writes tasks, never reads assistant state
    client      submits to tasks (the publish script, or plain XADD); reads session logs,
                blobs, errors, dead letters and stream status; puts input blobs; never deletes,
                never writes code/results/inboxes, never publishes on the cancel channel
    default     the operator: everything, with a password; or ``off`` when none is given

What ACLs cannot express (Redis checks commands and key names, not arguments): a user allowed to
XADD a stream can also trim it (``XADD ... MAXLEN 0``), and one allowed to EXPIRE a session log
can shorten its life. SCAN (the client's ``status``) lists key names of the whole database.
``deploy/redis/README.md`` spells these out.

Generate the file with ``deploy/redis/acl.py`` (``make redis-acl``): passwords come from the
environment (or ``.env``), are required, never defaulted, and only their SHA-256 is written.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from .keys import Keys
from .messages import CODE_TOPIC, EVENTS_TOPIC, OUTCOMES_TOPIC, RESULTS_TOPIC, TASKS_TOPIC

__all__ = [
    "ASSISTANT_TYPES",
    "EXECUTOR_TYPES",
    "SERVICE_USERS",
    "Grant",
    "UserSpec",
    "check_password",
    "new_password",
    "render_acl",
    "users_for",
]

SERVICE_USERS = ("assistant", "executor", "client")
"""The users every deployment has (plus ``default``, the operator)."""

# The services' agent types (consumer groups, inboxes, lock and state prefixes). They are the
# services' constants (``agent_streams_assistant.agent.AGENT_TYPE``,
# ``agent_streams_executor.agent.AGENT_TYPE`` / ``CANCELLER_TYPE``), repeated here because the
# shared package imports no service; tests/integration/test_redis_acl.py checks they agree.
ASSISTANT_TYPES = ("assistant",)
EXECUTOR_TYPES = ("executor", "executor-cancel")

MIN_PASSWORD_CHARS = 16
_PASSWORD = re.compile(r"^[A-Za-z0-9._~-]+$")

# Commands without key arguments every service user needs: the connection itself (redis-py
# pings for health checks; SELECT when the URL names a database), loading the runtime's Lua
# scripts (redis-py sends EVALSHA and, on NOSCRIPT, SCRIPT LOAD; pipelines ask SCRIPT EXISTS),
# and listening on the cancel channel.
_BASE = ("ping", "select", "script|load", "script|exists", "subscribe", "unsubscribe")
# What KEDA's Redis Streams scaler runs as the service's user (deploy/k8s/base/scaling.yaml):
# its lagCount trigger reads the server version with INFO before XINFO GROUPS, its
# pendingEntriesCount trigger runs XPENDING (both granted with _CONSUME). INFO shows server
# statistics and configuration, no keys, values or passwords.
_SCALER = ("info",)

# Consuming a stream as a consumer group (runtime.consumer): create the group, read, ack,
# heartbeat and reclaim (XCLAIM; XAUTOCLAIM is the same power), look at the group's backlog.
_CONSUME = (
    "xgroup|create",
    "xreadgroup",
    "xack",
    "xclaim",
    "xautoclaim",
    "xpending",
    "xinfo|groups",
)
# Publishing (scripts.PUBLISH through EVALSHA: queue-limit check, XADD, the session-log mirror)
# and reporting bad input / dead letters (XADD to errors, dead-letters and the session log).
_PUBLISH = ("evalsha", "xadd", "xinfo|groups")
# The one-agent-at-a-time lock: SET NX PX, then release / renew scripts (GET + DEL / PEXPIRE).
_LOCK = ("set", "get", "del", "pexpire", "evalsha")
# Answering send_message (request/reply) callers: reply on the caller's reply stream, check
# whether the caller cancelled; every runtime also reads its own reply stream. Sending requests
# (SET on cancelled:*, PUBLISH, DEL of one's reply stream at stop) is not granted: no service
# sends any.
_REPLY = ("xadd", "expire", "xread")
_CANCELLED = ("exists",)


@dataclass(frozen=True, slots=True)
class Grant:
    """One ACL selector: ``commands`` on ``keys`` (read-write) and ``read_keys`` (read-only).

    Attributes:
        purpose: why the user needs it (shown in the generated file and the README matrix).
        commands: lowercase command names, ``container|subcommand`` for subcommands.
        keys: key patterns the commands may read and write.
        read_keys: key patterns the commands may only read.
    """

    purpose: str
    commands: tuple[str, ...]
    keys: tuple[str, ...] = ()
    read_keys: tuple[str, ...] = ()

    def render(self) -> str:
        patterns = [f"~{k}" for k in self.keys] + [f"%R~{k}" for k in self.read_keys]
        return "(" + " ".join([*patterns, *(f"+{c}" for c in _unique(self.commands))]) + ")"


@dataclass(frozen=True, slots=True)
class UserSpec:
    """A Redis user: root commands without keys, channels, and the grants (selectors)."""

    name: str
    summary: str
    commands: tuple[str, ...]
    channels: tuple[str, ...]
    grants: tuple[Grant, ...] = field(default=())
    keys: tuple[str, ...] = ()
    """Key patterns of the root permissions (only the operator has any)."""

    def rule(self, password_sha256: str | None) -> str:
        """The ``user ...`` line of the ACL file (``off`` when ``password_sha256`` is None)."""
        if password_sha256 is None:
            return f"user {self.name} off resetpass resetkeys resetchannels -@all"
        root = [f"+{c}" for c in _unique(self.commands)]
        root += [f"~{k}" for k in self.keys] + [f"&{c}" for c in self.channels]
        parts = [
            "user",
            self.name,
            "on",
            "resetpass",
            f"#{password_sha256}",
            "resetkeys",
            "resetchannels",
            "-@all",
            *root,
            *(g.render() for g in self.grants),
        ]
        return " ".join(parts)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _agent_grants(
    keys: Keys, agent_types: tuple[str, ...], consumes: tuple[str, ...]
) -> list[Grant]:
    """What every agent service needs from the runtime besides its own publish targets: each
    of its agent types is a consumer group on ``consumes`` and has an inbox and locks."""
    return [
        Grant(
            "consume its topics and inboxes as consumer groups " + ", ".join(agent_types),
            _CONSUME,
            keys=(*(keys.topic(t) for t in consumes), *(keys.inbox(a) for a in agent_types)),
        ),
        Grant(
            "one message per agent at a time",
            _LOCK,
            keys=tuple(keys.lock(a, "*") for a in agent_types),
        ),
        Grant("answer send_message callers", _REPLY, keys=(keys.reply("*"),)),
        Grant("see a caller's cancellation", _CANCELLED, read_keys=(keys.cancelled("*"),)),
        Grant(
            "announce and look up the message types each topic's subscribers handle",
            ("sadd", "sismember"),
            keys=tuple(keys.topic_types(t) for t in consumes),
        ),
    ]


def _publish_grants(keys: Keys, topics: tuple[str, ...], why: str) -> list[Grant]:
    return [
        Grant(
            why,
            _PUBLISH,
            keys=(
                *(keys.topic(t) for t in topics),
                keys.session("*"),
                keys.errors,
                keys.dead_letters,
            ),
        ),
        Grant("session logs expire with the session", ("expire",), keys=(keys.session("*"),)),
    ]


def users_for(
    namespace: str,
    *,
    assistant_types: tuple[str, ...] = ASSISTANT_TYPES,
    executor_types: tuple[str, ...] = EXECUTOR_TYPES,
) -> dict[str, UserSpec]:
    """The three service users of ``namespace`` plus ``default`` (the operator).

    Args:
        namespace: the deployment's ``AGENT_STREAMS_NAMESPACE``.
        assistant_types: the Assistant service's agent types; the first owns the session
            state and the deadline set.
        executor_types: the Executor service's agent types; the first owns the ``done:`` keys
            and the running-request marks.
    """
    keys = Keys(namespace)
    assistant_state, executor_state = assistant_types[0], executor_types[0]
    assistant = UserSpec(
        name="assistant",
        summary="the Assistant service: model loop, session state, deadlines",
        commands=(*_BASE, *_SCALER, "multi", "exec", "discard"),
        channels=(keys.cancel_channel,),
        grants=(
            *_agent_grants(keys, assistant_types, (TASKS_TOPIC, RESULTS_TOPIC)),
            *_publish_grants(
                keys,
                (EVENTS_TOPIC, CODE_TOPIC, OUTCOMES_TOPIC),
                "publish turns, code and outcomes; report bad input and dead letters",
            ),
            Grant(
                "session state (history, status, ending) and the deadline set",
                (
                    "get",
                    "set",
                    "mget",
                    "del",
                    "expire",
                    "lrange",
                    "rpush",
                    "zadd",
                    "zrem",
                    "zrangebyscore",
                    "evalsha",
                ),
                keys=(keys.state(assistant_state, "*", "*"), keys.deadlines(assistant_state)),
            ),
        ),
    )
    executor = UserSpec(
        name="executor",
        summary="the Executor service: runs code, stores artifacts, answers redeliveries",
        # PUBLISH: the canceller forwards a session's cancel to the replica running its code.
        commands=(*_BASE, *_SCALER, "publish"),
        channels=(keys.cancel_channel,),
        grants=(
            *_agent_grants(keys, executor_types, (CODE_TOPIC,)),
            *_publish_grants(
                keys,
                (RESULTS_TOPIC,),
                "publish results; report bad input and dead letters",
            ),
            Grant(
                "input files and artifacts (content-addressed blobs)",
                ("get", "set", "exists", "expire"),
                keys=(keys.blob("*"),),
            ),
            Grant(
                "stored results (a redelivered request is answered, not re-run), which "
                "request each session is running (for cancellation) and each session's file "
                "manifest (its files carry over to whichever replica takes the next turn)",
                (
                    "get",
                    "set",
                    "del",
                    "exists",
                    "expire",
                    "hget",
                    "hgetall",
                    "hset",
                    "hdel",
                    "hincrby",
                    "incrby",
                ),
                keys=(keys.done(executor_state, "*"), keys.state(executor_state, "*", "*")),
            ),
        ),
    )
    client = UserSpec(
        name="client",
        summary="the client and CLI: submit, follow, cancel, artifacts, status",
        commands=(*_BASE, "scan"),
        channels=(keys.cancel_channel,),
        grants=(
            Grant(
                "submit and cancel tasks (publish script or plain XADD), session-log mirror",
                _PUBLISH,
                keys=(keys.topic(TASKS_TOPIC), keys.session("*")),
            ),
            Grant("session logs expire with the session", ("expire",), keys=(keys.session("*"),)),
            Grant(
                "follow and replay sessions; status, errors and dead letters (read-only)",
                (
                    "exists",
                    "xread",
                    "xrange",
                    "xrevrange",
                    "xlen",
                    "xinfo|groups",
                    "xinfo|consumers",
                ),
                read_keys=(
                    keys.session("*"),
                    keys.topic_pattern,
                    keys.inbox_pattern,
                    keys.errors,
                    keys.dead_letters,
                    keys.reply("*"),
                ),
            ),
            Grant(
                "put input files (a put refreshes the TTL), fetch artifacts",
                ("get", "set", "exists", "expire"),
                keys=(keys.blob("*"),),
            ),
        ),
    )
    operator = UserSpec(
        name="default",
        summary="the operator (redis-cli, dead-letter retry): every command and key",
        commands=("@all",),
        channels=("*",),
        keys=("*",),
    )
    return {u.name: u for u in (assistant, executor, client, operator)}


def check_password(user: str, password: str) -> str:
    """Refuse passwords that are short or would need escaping in a ``redis://`` URL."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(
            f"the password of Redis user {user!r} has {len(password)} characters; "
            f"use at least {MIN_PASSWORD_CHARS} (e.g. from `deploy/redis/acl.py passwords`)"
        )
    if not _PASSWORD.match(password):
        raise ValueError(
            f"the password of Redis user {user!r} may use only letters, digits and ._~- "
            "(it goes into a redis:// URL unescaped)"
        )
    return password


def new_password() -> str:
    """A fresh random password (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def render_acl(
    namespace: str,
    passwords: dict[str, str],
    *,
    assistant_types: tuple[str, ...] = ASSISTANT_TYPES,
    executor_types: tuple[str, ...] = EXECUTOR_TYPES,
) -> str:
    """The ACL file for ``namespace``.

    Args:
        namespace: the deployment's ``AGENT_STREAMS_NAMESPACE``.
        passwords: user name -> password for ``assistant``, ``executor`` and ``client``
            (required) and ``default`` (optional: without it the default user is ``off``).
        assistant_types: the Assistant service's agent types (see ``users_for``).
        executor_types: the Executor service's agent types.

    Raises:
        ValueError: a required password is missing or too weak.
    """
    missing = [u for u in SERVICE_USERS if not passwords.get(u)]
    if missing:
        raise ValueError(f"no password for Redis user(s) {', '.join(missing)}")
    users = users_for(namespace, assistant_types=assistant_types, executor_types=executor_types)
    # An ACL file has no comments: Redis refuses any line that is not a ``user`` rule.
    lines = []
    for name, spec in users.items():
        password = passwords.get(name)
        digest = None
        if password:
            digest = hashlib.sha256(check_password(name, password).encode()).hexdigest()
        lines.append(spec.rule(digest))
    return "\n".join(lines) + "\n"
