"""_tasks.py: spawned tasks are held until they end and their failures are logged at once;
cancel_and_wait leaves nothing running."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from agent_streams._tasks import TaskSet, cancel_and_wait, supervise


async def test_a_spawned_task_is_held_until_it_ends_and_its_failure_is_logged() -> None:
    tasks = TaskSet()

    async def fail() -> None:
        raise KeyError("bug")

    with capture_logs() as logs:
        task = tasks.spawn(fail())
        assert task in tasks
        await asyncio.wait([task])
        await asyncio.sleep(0)  # the done callbacks run on the next loop turn
    assert task not in tasks
    (line,) = logs
    assert line["event"] == "task_failed"
    assert isinstance(line["exc_info"], KeyError)


async def test_supervise_restarts_a_failing_loop_and_logs_each_failure() -> None:
    runs: list[int] = []
    done = asyncio.Event()

    async def loop() -> None:
        runs.append(1)
        if len(runs) < 2:
            raise RuntimeError("first run fails")
        done.set()

    with capture_logs() as logs:
        supervisor = asyncio.ensure_future(supervise("test", loop))
        await asyncio.wait_for(done.wait(), 5)
        await supervisor
    assert len(runs) == 2
    assert [line["event"] for line in logs] == ["background_loop_failed"]


async def test_cancel_and_wait_leaves_nothing_running() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    tasks = [asyncio.ensure_future(forever()) for _ in range(3)]
    await started.wait()
    await cancel_and_wait(tasks)
    assert all(t.cancelled() for t in tasks)
