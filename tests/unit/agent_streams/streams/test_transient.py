"""streams/transient.py: what counts as transient, the cause text, the backoff's counting."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from structlog.testing import capture_logs

from agent_streams.streams.transient import TRANSIENT, Backoff, cause


def test_connection_faults_are_transient_and_refusals_are_not() -> None:
    for exc in (RedisConnectionError("x"), RedisTimeoutError("x"), ConnectionResetError()):
        assert isinstance(exc, TRANSIENT)
    assert not isinstance(NoPermissionError("no xack"), TRANSIENT)


def test_cause_names_the_type_and_the_message() -> None:
    assert cause(RedisConnectionError("Connection closed by server.")) == (
        "ConnectionError: Connection closed by server."
    )
    assert cause(TimeoutError()) == "TimeoutError"


async def test_backoff_doubles_up_to_its_cap_and_counts_each_retry_in_its_log_line() -> None:
    backoff = Backoff(first_s=0.001, cap_s=0.004)
    pauses = []
    with capture_logs() as logs:
        for _ in range(4):
            pauses.append(backoff.next_s)
            await backoff.retry("read", RedisConnectionError("gone"), group="g")
    assert pauses == [0.001, 0.002, 0.004, 0.004]
    assert [line["attempt"] for line in logs] == [1, 2, 3, 4]
    assert {line["error"] for line in logs} == {"ConnectionError: gone"}
    assert {line["during"] for line in logs} == {"read"}
    backoff.reset()
    assert backoff.attempt == 0
