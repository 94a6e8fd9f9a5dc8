"""_runtime.py: the AgentRuntime protocol both runtimes implement (named test__runtime.py, the
module's own name: streams/test_runtime.py is the Redis runtime's)."""

from __future__ import annotations

import inspect

from agent_streams import InProcessRuntime
from agent_streams._runtime import AgentRuntime
from agent_streams.streams import RedisStreamsRuntime, RuntimeSettings


def test_both_runtimes_implement_the_protocol_with_its_signatures() -> None:
    members = [n for n in vars(AgentRuntime) if not n.startswith("_")]
    assert {"send_message", "publish_message", "register_factory", "stop_when_idle"} <= set(members)
    redis_runtime = RedisStreamsRuntime(RuntimeSettings(redis_url="redis://127.0.0.1:1/0"))
    for runtime in (InProcessRuntime(), redis_runtime):
        assert isinstance(runtime, AgentRuntime)
        for name in members:
            declared = inspect.signature(getattr(AgentRuntime, name))
            actual = inspect.signature(getattr(type(runtime), name))
            assert list(actual.parameters) == list(declared.parameters), (type(runtime), name)


def test_something_missing_a_method_is_not_a_runtime() -> None:
    class Publisher:
        async def publish_message(self) -> None: ...

    assert not isinstance(Publisher(), AgentRuntime)
