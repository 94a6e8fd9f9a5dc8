"""streams/settings.py: the environment read, and combinations that would break delivery refused."""

from __future__ import annotations

import pytest

from agent_streams.streams.settings import RuntimeSettings


def test_the_environment_is_read_with_redis_url_as_a_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://plain:1/0")
    monkeypatch.setenv("AGENT_STREAMS_NAMESPACE", "ns-env")
    assert RuntimeSettings().redis_url == "redis://plain:1/0"
    assert RuntimeSettings().namespace == "ns-env"
    monkeypatch.setenv("AGENT_STREAMS_REDIS_URL", "redis://ours:2/0")
    assert RuntimeSettings().redis_url == "redis://ours:2/0"
    assert RuntimeSettings().consumer_name != RuntimeSettings().consumer_name  # per process


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"heartbeat_ms": 500, "claim_idle_ms": 500}, "heartbeat_ms"),
        ({"max_inflight": 100, "max_connections": 100}, "max_connections"),
        ({"queue_limit": 1000, "stream_maxlen": 1000}, "queue_limit"),
    ],
)
def test_settings_that_would_break_delivery_are_refused(values: dict[str, int], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        RuntimeSettings(**values)  # type: ignore[arg-type]
    RuntimeSettings(queue_limit=0, stream_maxlen=10)  # 0: no queue limit, any bound goes
