"""Async actions (flows): each stretch between awaits is its own transaction."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mstlite import (
    DeadNodeError,
    Identifier,
    Model,
    ProtectionError,
    action,
    apply_action,
    clone,
    destroy,
    get_snapshot,
    on_action,
    on_patch,
    on_snapshot,
    record_actions,
)


class Job(Model):
    id: Identifier
    status: str = "idle"
    progress: int = 0
    steps: list[str] = []

    @action
    def set_status(self, status: str) -> None:
        self.status = status

    @action
    def step(self, name: str) -> None:
        self.steps.append(name)

    @action
    async def run(self, gate: asyncio.Event | None = None, count: int = 2) -> str:
        self.status = "running"
        for index in range(count):
            if gate is not None:
                await gate.wait()
            else:
                await asyncio.sleep(0)
            self.progress = index + 1
            self.steps.append(f"{self.id}{index}")
        self.status = "done"
        return self.id

    @action
    async def run_then_fail(self, fail_in_stretch: int) -> None:
        self.status = "running"
        if fail_in_stretch == 0:
            raise ValueError("first stretch")
        await asyncio.sleep(0)
        self.progress = 1
        if fail_in_stretch == 1:
            raise ValueError("second stretch")
        await asyncio.sleep(0)
        self.progress = 2

    @action
    async def long_task(self) -> None:
        self.status = "running"
        try:
            await asyncio.sleep(3600)
            self.status = "done"
        finally:
            if self.status == "running":
                self.set_status("cancelled")
                self.steps.append("cleanup")

    @action
    async def long_task_catching(self) -> str:
        self.status = "running"
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.status = "stopped"
            raise
        return "never"

    @action
    async def sync_only(self) -> int:
        self.progress = 42
        return self.progress

    @action
    async def wait_outside(self, future: asyncio.Future[str]) -> str:
        self.status = "waiting"
        value = await future
        self.status = value
        return value


class Queue(Model):
    jobs: list[Job] = []
    log: list[str] = []

    @action
    def add(self, id: str) -> Job:
        self.jobs.append({"id": id})
        return self.jobs[-1]

    @action
    def note(self, text: str) -> None:
        self.log.append(text)

    @action
    async def run_all(self) -> list[str]:
        self.log.append("start")
        results = await asyncio.gather(*(job.run() for job in self.jobs))
        self.log.append("end")
        return list(results)


def test_flow_returns_value_and_changes_state() -> None:
    job = Job.create({"id": "j"})
    assert asyncio.run(job.run()) == "j"
    assert get_snapshot(job) == {
        "id": "j",
        "status": "done",
        "progress": 2,
        "steps": ["j0", "j1"],
    }


def test_flow_without_awaits() -> None:
    job = Job.create({"id": "j"})
    assert asyncio.run(job.sync_only()) == 42
    assert job.progress == 42


def test_each_stretch_is_its_own_commit() -> None:
    job = Job.create({"id": "j"})
    snapshots: list[Any] = []
    patches: list[Any] = []
    on_snapshot(job, snapshots.append)
    on_patch(job, lambda p, inv: patches.append(p["path"]))
    asyncio.run(job.run(count=2))
    # stretch 1: status; stretch 2: progress + steps; stretch 3: progress + steps + status
    assert [(s["status"], s["progress"], list(s["steps"])) for s in snapshots] == [
        ("running", 0, []),
        ("running", 1, ["j0"]),
        ("done", 2, ["j0", "j1"]),
    ]
    assert patches == [
        "/status",
        "/progress",
        "/steps/0",
        "/progress",
        "/steps/1",
        "/status",
    ]


def test_flow_writes_need_the_flow_stretch() -> None:
    job = Job.create({"id": "j"})

    async def main() -> None:
        task = asyncio.ensure_future(job.run(count=1))
        await asyncio.sleep(0)
        # between stretches the tree is protected again
        with pytest.raises(ProtectionError):
            job.status = "meddling"
        await task

    asyncio.run(main())
    assert job.status == "done"


def test_other_code_acts_during_awaits() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}]})
    job = queue.jobs[0]

    async def main() -> None:
        gate = asyncio.Event()
        task = asyncio.ensure_future(job.run(gate, count=1))
        await asyncio.sleep(0)
        assert job.status == "running"  # the first stretch committed
        queue.note("during")
        job.step("manual")
        queue.add("b")
        gate.set()
        assert await task == "a"

    asyncio.run(main())
    assert list(queue.log) == ["during"]
    assert list(job.steps) == ["manual", "a0"]
    assert [j.id for j in queue.jobs] == ["a", "b"]
    assert job.status == "done"


def test_exception_in_a_stretch_rolls_back_only_that_stretch() -> None:
    for stretch, expected in [(0, ("idle", 0)), (1, ("running", 0))]:
        job = Job.create({"id": "j"})
        snapshots: list[Any] = []
        on_snapshot(job, snapshots.append)
        with pytest.raises(ValueError, match="stretch"):
            asyncio.run(job.run_then_fail(stretch))
        assert (job.status, job.progress) == expected
        # listeners saw only committed stretches
        assert len(snapshots) == stretch


def test_exceptions_propagate_to_awaiter() -> None:
    job = Job.create({"id": "j"})

    async def main() -> str:
        try:
            await job.run_then_fail(1)
        except ValueError as error:
            return str(error)
        return "no error"

    assert asyncio.run(main()) == "second stretch"


def test_failed_await_is_raised_inside_the_flow() -> None:
    job = Job.create({"id": "j"})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        task = asyncio.ensure_future(job.wait_outside(future))
        await asyncio.sleep(0)
        future.set_exception(LookupError("outside"))
        with pytest.raises(LookupError):
            await task

    asyncio.run(main())
    assert job.status == "waiting"


def test_await_result_is_sent_into_flow() -> None:
    job = Job.create({"id": "j"})

    async def main() -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        loop.call_later(0.001, future.set_result, "resolved")
        return await job.wait_outside(future)

    assert asyncio.run(main()) == "resolved"
    assert job.status == "resolved"


def test_cancellation_keeps_cleanup_done_through_actions() -> None:
    job = Job.create({"id": "j"})
    snapshots: list[Any] = []
    on_snapshot(job, snapshots.append)

    async def main() -> None:
        task = asyncio.ensure_future(job.long_task())
        await asyncio.sleep(0.01)
        assert job.status == "running"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert job.status == "cancelled"
    assert list(job.steps) == ["cleanup"]
    assert snapshots[-1] is get_snapshot(job)


def test_cancellation_caught_and_reraised_keeps_changes() -> None:
    job = Job.create({"id": "j"})

    async def main() -> None:
        task = asyncio.ensure_future(job.long_task_catching())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert job.status == "stopped"


def test_wait_for_timeout_cancels_flow_with_cleanup() -> None:
    job = Job.create({"id": "j"})

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(job.long_task(), timeout=0.01)

    asyncio.run(main())
    assert job.status == "cancelled"
    assert list(job.steps) == ["cleanup"]


def test_wait_for_completes() -> None:
    job = Job.create({"id": "j"})

    async def main() -> str:
        return await asyncio.wait_for(job.run(), timeout=5)

    assert asyncio.run(main()) == "j"
    assert job.status == "done"


def test_gather_interleaves_flows() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}, {"id": "b"}]})
    snapshots: list[Any] = []
    on_snapshot(queue, snapshots.append)

    async def main() -> list[str]:
        return list(await asyncio.gather(queue.jobs[0].run(), queue.jobs[1].run()))

    assert asyncio.run(main()) == ["a", "b"]
    assert [j.status for j in queue.jobs] == ["done", "done"]
    assert list(queue.jobs[0].steps) == ["a0", "a1"]
    assert list(queue.jobs[1].steps) == ["b0", "b1"]
    # the stretches interleaved: one job started before the other finished
    statuses = [tuple(j["status"] for j in s["jobs"]) for s in snapshots]
    assert ("running", "running") in statuses


def test_flow_gathering_other_flows() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}, {"id": "b"}]})
    assert asyncio.run(queue.run_all()) == ["a", "b"]
    assert list(queue.log) == ["start", "end"]
    assert all(j.status == "done" for j in queue.jobs)


def test_gather_with_one_failing_flow() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}, {"id": "b"}]})

    async def main() -> None:
        with pytest.raises(ValueError):
            await asyncio.gather(queue.jobs[0].run(), queue.jobs[1].run_then_fail(1))

    asyncio.run(main())
    assert queue.jobs[1].status == "running"
    assert queue.jobs[1].progress == 0


def test_flow_on_dead_node_raises() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}]})
    job = queue.jobs[0]
    destroy(job)
    with pytest.raises(DeadNodeError):
        asyncio.run(job.run())


def test_flow_node_destroyed_during_await() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}]})
    job = queue.jobs[0]

    async def main() -> None:
        gate = asyncio.Event()
        task = asyncio.ensure_future(job.run(gate, count=1))
        await asyncio.sleep(0)
        destroy(job)
        gate.set()
        with pytest.raises(DeadNodeError):
            await task

    asyncio.run(main())
    assert get_snapshot(queue)["jobs"] == []


# ------------------------------------------------------------ action log
def test_on_action_reports_flow_once_when_it_starts() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}]})
    calls: list[dict[str, Any]] = []
    on_action(queue, calls.append)

    async def main() -> None:
        task = asyncio.ensure_future(queue.jobs[0].run(count=1))
        await asyncio.sleep(0)
        assert calls == [{"name": "run", "path": "/jobs/0", "args": [], "kwargs": {"count": 1}}]
        await task

    asyncio.run(main())
    assert len(calls) == 1


def test_record_actions_replay_reproduces_final_snapshot() -> None:
    queue = Queue.create({"jobs": [{"id": "a"}]})
    replica = clone(queue)
    recorder = record_actions(queue)

    async def main() -> None:
        queue.add("b")
        await queue.jobs[1].run()
        queue.note("between")
        queue.jobs[0].set_status("paused")
        await queue.jobs[0].run(count=3)

    asyncio.run(main())
    recorder.stop()
    assert [c["name"] for c in recorder.actions] == ["add", "run", "note", "set_status", "run"]

    async def replay() -> None:
        for call in recorder.actions:
            result = apply_action(replica, call)
            if asyncio.iscoroutine(result):
                await result

    asyncio.run(replay())
    assert get_snapshot(replica) == get_snapshot(queue)
