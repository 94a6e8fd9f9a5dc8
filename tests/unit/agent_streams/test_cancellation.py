"""_cancellation.py: tokens, and the running handlers' tokens by message id."""

from __future__ import annotations

from agent_streams._cancellation import CancellationToken, RunningHandlers


def test_cancel_reaches_every_handler_of_the_message_and_only_those() -> None:
    running = RunningHandlers()
    a, b, other = CancellationToken(), CancellationToken(), CancellationToken()
    running.add("m-1", a)
    running.add("m-1", b)  # two agent types in one process handle the same message
    running.add("m-2", other)
    assert running.cancel("m-1") == 2
    assert a.is_cancelled()
    assert b.is_cancelled()
    assert not other.is_cancelled()


def test_a_finished_handler_is_not_cancelled_later() -> None:
    running = RunningHandlers()
    token = CancellationToken()
    running.add("m-1", token)
    running.discard("m-1", token)
    assert running.cancel("m-1") == 0
    assert not token.is_cancelled()


def test_callbacks_run_once_even_when_added_after_the_cancel() -> None:
    token = CancellationToken()
    calls: list[str] = []
    token.add_callback(lambda: calls.append("before"))
    token.cancel()
    token.cancel()
    token.add_callback(lambda: calls.append("after"))
    assert calls == ["before", "after"]
