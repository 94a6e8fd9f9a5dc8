"""The Assistant under redelivery, crashes, cancellation and deadlines (in-process runtime,
scripted fake model, fake executor): every task ends exactly once, with a status."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from assistant_fakes import WAIT_S, code_reply, harness, ran, silent
from redis.exceptions import ConnectionError as RedisConnectionError

from agent_streams import TopicId
from agent_streams.messages import RESULTS_TOPIC, ExecutionResult, TaskRequest
from agent_streams_assistant.models import LLMMessage
from agent_streams_assistant.session import Ending, SessionState


async def test_redelivered_task_request_adds_no_turn() -> None:
    async with harness([code_reply("print(2 + 2)"), "4"], [ran(0, "4")]) as h:
        task = TaskRequest(prompt="2 + 2?")
        await h.submit(task, message_id="same-id")
        await h.submit(task, message_id="same-id")
        result = await h.record.result()
        await h.submit(task, message_id="same-id")  # even after the end
        await h.runtime.stop_when_idle()

    assert result.status == "completed"
    assert result.turns == 2
    assert len(h.model.calls) == 2
    assert [t.turn for t in h.record.turns] == [1, 2]
    assert len(h.record.requests) == 1
    assert len(h.record.results) == 1


async def test_duplicate_execution_results_add_no_turn() -> None:
    replies = [code_reply("print(1)"), code_reply("print(2)"), "done"]
    async with harness(replies, [ran(0, "1"), ran(0, "2")], duplicate_results=True) as h:
        await h.submit(TaskRequest(prompt="count"))
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert result.status == "completed"
    assert result.turns == 3
    assert len(h.model.calls) == 3
    assert len(h.record.requests) == 2
    assert len(h.record.results) == 1


async def test_redelivery_after_a_crash_during_the_model_call_resumes() -> None:
    crashed = asyncio.Event()

    def lose_redis(conversation: Sequence[LLMMessage]) -> str:
        crashed.set()
        raise RedisConnectionError("connection lost")  # transient: left to the runtime

    async with harness([lose_redis, "the answer"]) as h:
        task = TaskRequest(prompt="question")
        await h.submit(task)
        await asyncio.wait_for(crashed.wait(), WAIT_S)
        await h.submit(task)  # what the Redis runtime's redelivery does
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert [type(e) for e in h.runtime.unhandled_errors] == [RedisConnectionError]
    assert result.status == "completed"
    assert result.answer == "the answer"
    assert result.turns == 1
    # the resumed turn saw the same history, once: nothing was appended by the failed attempt
    assert h.model.calls[0] == h.model.calls[1]
    assert len(h.model.calls[1]) == 2


async def test_redelivery_after_a_crash_before_publishing_sends_what_was_owed() -> None:
    async with harness([code_reply("print(1)"), "one"], [ran(0, "1")]) as h:
        real_save = h.store.save
        crashes = 0

        async def save_then_crash(
            session: str, state: SessionState, append: Sequence[LLMMessage] = ()
        ) -> None:
            nonlocal crashes
            await real_save(session, state, append)
            if state.outbox_request is not None and crashes == 0:
                crashes += 1
                raise RedisConnectionError("replica lost Redis before publishing")

        h.store.save = save_then_crash
        task = TaskRequest(prompt="one?")
        await h.submit(task)
        await h.submit(task)  # the redelivery
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert crashes == 1
    assert result.status == "completed"
    assert result.turns == 2
    assert len(h.model.calls) == 2  # the saved turn was not asked again
    assert len(h.record.requests) == 1
    assert [t.turn for t in h.record.turns] == [1, 2]


async def test_cancel_ends_the_task_and_stops_the_code() -> None:
    async with harness([code_reply("import time; time.sleep(600)")], [silent]) as h:
        await h.submit(TaskRequest(prompt="wait"))
        await asyncio.wait_for(h.record.requested.wait(), WAIT_S)
        await h.cancel(reason="user pressed ^C")
        result = await h.record.result()
        # the executor's late answer, after the end, is ignored
        late = ExecutionResult(turn=1, request_id="r", exit_code=125, output="", cancelled=True)
        await h.runtime.publish_message(late, TopicId(RESULTS_TOPIC, "s1"))
        await h.runtime.stop_when_idle()

    assert result.status == "cancelled"
    assert result.error == "user pressed ^C"
    assert result.turns == 1
    assert [c.reason for c in h.record.cancels] == ["user pressed ^C"]
    assert len(h.record.results) == 1
    assert len(h.model.calls) == 1


async def test_cancel_before_the_task_starts_it_never() -> None:
    async with harness(["never asked"]) as h:
        await h.cancel()
        await h.submit(TaskRequest(prompt="too late"))
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert result.status == "cancelled"
    assert result.turns == 0
    assert h.model.calls == []
    assert len(h.record.results) == 1


async def test_deadline_when_the_executor_never_answers() -> None:
    async with harness([code_reply("print('hi')")], [silent]) as h:
        await h.submit(TaskRequest(prompt="hi", timeout_s=0.2))
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert result.status == "deadline"
    assert result.turns == 1
    assert result.error is not None
    assert "waiting for the executor to run turn 1" in result.error
    assert len(h.record.cancels) == 1  # the executor is told to stop the code
    assert len(h.record.results) == 1


async def test_deadline_during_a_slow_model_call() -> None:
    async with harness(["too slow"], model_latency_s=60) as h:
        await h.submit(TaskRequest(prompt="hi", timeout_s=0.2))
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert result.status == "deadline"
    assert result.turns == 0
    assert len(h.record.results) == 1


async def test_unexpected_error_ends_as_failed() -> None:
    def bug(conversation: Sequence[LLMMessage]) -> str:
        raise ValueError("a bug")

    async with harness([bug]) as h:
        await h.submit(TaskRequest(prompt="hi"))
        result = await h.record.result()

    assert result.status == "failed"
    assert result.error == "internal error in the assistant: ValueError: a bug"


async def test_redelivery_after_a_crash_before_the_ending_ends_it_the_same_way() -> None:
    async with harness(["the answer"]) as h:
        real_finish = h.store.finish
        crashes = 0

        async def crash_once(session: str, ending: Ending) -> bool:
            nonlocal crashes
            if crashes == 0:
                crashes += 1
                raise RedisConnectionError("replica lost Redis before recording the ending")
            return await real_finish(session, ending)

        h.store.finish = crash_once
        task = TaskRequest(prompt="question")
        await h.submit(task)
        await h.submit(task)  # the redelivery
        result = await h.record.result()
        await h.runtime.stop_when_idle()

    assert crashes == 1
    assert result.status == "completed"
    assert result.answer == "the answer"
    assert len(h.model.calls) == 1  # no second model call for a decided task
    assert len(h.record.results) == 1
