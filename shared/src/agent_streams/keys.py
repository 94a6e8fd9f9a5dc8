"""Every Redis key and channel name agent-streams uses, built in this one module.

All names live under a namespace (``AGENT_STREAMS_NAMESPACE``, default ``agents``) so that
several deployments, or tests, share one Redis without seeing each other::

    {ns}:topic:{topic_type}          stream: published messages of one topic type
    {ns}:agent:{agent_type}          stream: direct messages (send_message) to one agent type
    {ns}:reply:{runtime_id}          stream: replies to one runtime's send_message calls
    {ns}:session:{source}            stream: every message of one session, for follow / replay
    {ns}:errors                      stream: bad input, answered so the submitter can see it
    {ns}:dead-letters                stream: entries given up on, with the error
    {ns}:lock:{agent_type}:{key}     string: one agent instance handles one message at a time
    {ns}:cancel                      pub/sub channel: cancel an in-flight send_message
    {ns}:cancelled:{message_id}      string: cancellation that arrived before the handler ran
    {ns}:state:{agent_type}:{key}:{name}   per-agent state that must survive a replica
    {ns}:types:{topic_type}          set: message type names some subscriber of the topic handles
    {ns}:blob:{sha256}               string: an artifact or input file, content-addressed
    {ns}:done:{scope}:{message_id}   string: stored result of an effect, for idempotent redelivery
    {ns}:deadlines:{agent_type}      sorted set: session -> deadline (epoch s), swept by replicas

Consumer groups are named after the agent type that subscribes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Keys", "validate_name"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-/@+=]{1,200}$")


def validate_name(value: str, what: str) -> str:
    """Reject names that would break the key layout (``:``, spaces, empty, too long)."""
    if not _NAME.match(value):
        raise ValueError(
            f"invalid {what} {value!r}: use 1-200 characters from letters, digits and _.-/@+="
        )
    return value


@dataclass(frozen=True, slots=True)
class Keys:
    namespace: str = "agents"

    def __post_init__(self) -> None:
        validate_name(self.namespace, "namespace")

    def topic(self, topic_type: str) -> str:
        return f"{self.namespace}:topic:{topic_type}"

    def inbox(self, agent_type: str) -> str:
        return f"{self.namespace}:agent:{agent_type}"

    def reply(self, runtime_id: str) -> str:
        return f"{self.namespace}:reply:{runtime_id}"

    def session(self, source: str) -> str:
        return f"{self.namespace}:session:{source}"

    @property
    def errors(self) -> str:
        return f"{self.namespace}:errors"

    @property
    def dead_letters(self) -> str:
        return f"{self.namespace}:dead-letters"

    def lock(self, agent_type: str, key: str) -> str:
        return f"{self.namespace}:lock:{agent_type}:{key}"

    @property
    def cancel_channel(self) -> str:
        return f"{self.namespace}:cancel"

    def cancelled(self, message_id: str) -> str:
        return f"{self.namespace}:cancelled:{message_id}"

    def state(self, agent_type: str, key: str, name: str) -> str:
        return f"{self.namespace}:state:{agent_type}:{key}:{name}"

    def topic_types(self, topic_type: str) -> str:
        return f"{self.namespace}:types:{topic_type}"

    def blob(self, digest: str) -> str:
        return f"{self.namespace}:blob:{digest}"

    def done(self, scope: str, message_id: str) -> str:
        return f"{self.namespace}:done:{scope}:{message_id}"

    def deadlines(self, agent_type: str) -> str:
        return f"{self.namespace}:deadlines:{agent_type}"

    @property
    def topic_pattern(self) -> str:
        return f"{self.namespace}:topic:*"

    @property
    def inbox_pattern(self) -> str:
        return f"{self.namespace}:agent:*"
