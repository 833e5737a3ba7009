"""The fair queue every visitor's training waits in (charmodels.fairqueue), with real training.

Texts of lines that start alike ("ab" and "ac", each line from a fresh state) can never
reach the quality bar, so they keep a worker busy for as long as a test needs; short
distinct texts ("hello 3") reach it in a fraction of a second.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from dataclasses import dataclass
from typing import ClassVar

import pytest

import charmodels as cm
from charmodels import fairqueue
from charmodels.errors import CharmodelsError
from charmodels.fairqueue import (
    DONE,
    EXPIRED,
    FAILED,
    LEFT,
    RUNNING,
    WAITING,
    FairQueue,
)
from charmodels.jobs import (
    ALL_STEPS,
    BY_REQUEST,
    LEARNED,
    STOPPED,
    TIME_UP,
    TIMED_OUT,
    LabPoint,
    TextTraining,
)
from charmodels.lab import run_point

NEVER_DONE = "\n".join(["ab", "ac"] * 20)
# the same, with lines long enough that 3,000 passes take minutes (in a worker process too)
_PREFIX = "".join(random.Random(0).choices("abcdefghij ", k=200))
HEAVY_NEVER_DONE = "\n".join([_PREFIX + "x", _PREFIX + "y"] * 20)


def busy(seconds: float = 30.0, name: str = "busy") -> TextTraining:
    """Work that holds a worker until stopped, left or `seconds` are up."""
    return TextTraining.checked(HEAVY_NEVER_DONE, "rnn", 8, 3000, name=name, lines=True, time_limit=seconds)


def quick(i: int, cell: str = "lstm") -> TextTraining:
    return TextTraining.checked(f"hello {i}", cell, 16, 300, name=f"t{i}")


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.01)


def final(ticket, timeout: float = 120.0):
    wait_until(lambda: ticket.status().finished, timeout, "end")
    return ticket.status()


# nice=0 in tests: lowered workers give way to every other process on a shared machine, and crawl
# there; test_workers_run_below_the_apps_priority checks the default
@pytest.fixture
def queue(tmp_path):
    q = FairQueue(workers=1, folder=tmp_path, nice=0)
    yield q
    q.close()


@dataclass(frozen=True)
class StubWork:
    """The least a queue's Work is: a private text work estimated at 0.1-1 s, never reused.
    A test's subclass says what `run` does."""

    kind: ClassVar[str] = "text"
    private: ClassVar[bool] = True
    key: ClassVar[None] = None

    def estimate(self):
        return 0.1, 1.0

    def reusable(self, result):
        return False

    def run(self, context):
        raise NotImplementedError


def assert_later_places_start_later(statuses, when: str) -> None:
    """`when` (a Status time) never falls from one place in line to the next. Each status counts from
    the moment it was asked, a little after the one before: places that start together (as many as
    there are workers) may differ by that moment (0.5 s allowed), never by a turn."""
    times = [getattr(s, when) for s in sorted(statuses, key=lambda s: s.position)]
    assert all(later > earlier - 0.5 for earlier, later in itertools.pairwise(times)), (when, times)


def test_eight_concurrent_trainings_all_finish_none_refused_positions_in_order(tmp_path):
    queue = FairQueue(workers=2, folder=tmp_path, nice=0)
    try:
        blockers = [queue.submit(f"blocker{i}", busy(name=f"b{i}")) for i in range(2)]
        wait_until(lambda: queue.running == 2, what="both workers busy")
        tickets, barrier = [None] * 8, threading.Barrier(8)

        def student(i: int) -> None:
            barrier.wait()
            tickets[i] = queue.submit(f"student{i}", quick(i, ("rnn", "lstm", "gru")[i % 3]))

        threads = [threading.Thread(target=student, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = [t.status() for t in tickets]
        assert all(s.state == WAITING for s in statuses), statuses
        assert sorted(s.position for s in statuses) == list(range(1, 9))  # each its own place, none refused
        for s in statuses:  # an honest estimate: later places start later, and never after their bound
            assert s.waiting_ahead == s.position - 1
            assert 0 < s.start_expected <= s.start_at_most and s.end_expected <= s.end_at_most
        assert_later_places_start_later(statuses, "start_at_most")
        assert_later_places_start_later(statuses, "start_expected")

        seen = {t.id: [] for t in tickets}
        for blocker in blockers:
            blocker.stop()
        while not all(t.status().finished for t in tickets):
            for t in tickets:
                s = t.status()
                if s.state == WAITING:
                    seen[t.id].append(s.position)
            time.sleep(0.005)
        for positions in seen.values():  # a place in line only ever moves forward
            assert positions == sorted(positions, reverse=True)
        for t in tickets:
            s = t.status()
            assert s.state == DONE and s.result.state == "done" and s.result.reason == LEARNED, s
            assert s.result.metrics.meets_bar and s.result.path.is_file()
            model = cm.load_checkpoint(s.result.path)
            assert model.info["train_config"]["recipe"] == "windows"
        for blocker in blockers:
            s = final(blocker)
            assert (s.state, s.result.state, s.result.reason) == (DONE, STOPPED, BY_REQUEST)
            assert s.result.path.is_file() and not s.result.metrics.meets_bar  # saved as it is
    finally:
        queue.close()


def test_the_line_is_first_come_first_served(queue):
    blocker = queue.submit("a", busy())
    wait_until(lambda: blocker.status().state == RUNNING, what="start")
    first, second = queue.submit("b", quick(1)), queue.submit("c", quick(2))
    assert (first.status().position, second.status().position) == (1, 2)
    blocker.leave()  # a running work that nobody holds is abandoned at once
    assert blocker.status().state == LEFT
    s1, s2 = final(first), final(second)
    assert s1.state == s2.state == DONE
    assert s1.result.history.seconds > 0


def test_same_request_twice_is_one_ticket_and_another_replaces_it_in_place(queue):
    blocker = queue.submit("a", busy())
    wait_until(lambda: blocker.status().state == RUNNING, what="start")
    mine = queue.submit("me", quick(1))
    other = queue.submit("you", quick(2))
    assert queue.submit("me", quick(1)) is mine  # a double click
    replacing = queue.submit("me", quick(3))  # changed my mind: my place in line is kept
    assert mine.status().state == LEFT and mine.status().reason == "replaced"
    assert replacing.status().position == 1 and other.status().position == 2
    assert queue.owned("me") == [replacing]
    lab = queue.submit("me", LabPoint.checked("rnn", 2, 10, 0))  # another kind: a second request of mine
    assert sorted(t.kind for t in queue.owned("me")) == ["lab", "text"]
    blocker.leave()
    assert final(replacing).state == DONE and final(lab).state == DONE
    assert "hello 3" in cm.load_checkpoint(replacing.status().result.path).info["corpus"]["text"]


def test_identical_work_runs_once_and_is_served_from_the_cache(queue):
    point = LabPoint.checked("lstm", 3, 30, 7)
    first = queue.submit("student1", point)
    class_ = [queue.submit(f"student{i}", LabPoint.checked("lstm", 3, 30, 7)) for i in range(2, 12)]
    assert first.status().shared == 11  # a whole class clicking the same point: one run
    result = final(first).result
    assert all(final(t).result is result for t in class_)
    started = time.monotonic()
    late = queue.submit("late", LabPoint.checked("lstm", 3, 30, 7))
    s = late.status()
    assert s.state == DONE and s.cached and s.result is result and time.monotonic() - started < 0.5
    again = run_point(point.config)  # deterministic: the cache returns what a fresh run gives
    assert (again.accuracy, again.eval_loss, again.loss_curve) == (result.accuracy, result.eval_loss, result.loss_curve)

    text_a = queue.submit("a", quick(5))
    text_b = queue.submit("b", quick(5))  # the same text and settings from another session
    assert final(text_a).result is final(text_b).result
    assert text_b.status().shared == 2


def test_a_stopped_run_is_never_reused(queue):
    first = queue.submit("a", busy())
    wait_until(lambda: first.status().state == RUNNING, what="start")
    first.stop()
    assert final(first).result.state == STOPPED
    second = queue.submit("b", busy(seconds=0.5))
    s = final(second)
    assert not s.cached and s.result is not first.status().result
    assert (s.result.state, s.result.reason) == (TIMED_OUT, TIME_UP)  # out of time, saved as it is
    assert s.result.path.is_file() and second.status().result.path != first.status().result.path


def test_stop_on_shared_work_leaves_it_running_for_the_others(queue):
    a = queue.submit("a", busy(seconds=3))
    b = queue.submit("b", busy(seconds=3))
    wait_until(lambda: a.status().state == RUNNING, what="start")
    a.stop()
    assert a.status().state == LEFT
    s = final(b)
    assert (s.state, s.result.state) == (DONE, TIMED_OUT)


def test_leaving_the_line(queue):
    blocker = queue.submit("a", busy())
    wait_until(lambda: blocker.status().state == RUNNING, what="start")
    tickets = [queue.submit(f"s{i}", quick(i)) for i in range(3)]
    tickets[0].leave()
    assert tickets[0].status().state == LEFT and tickets[0].status().reason == "by_owner"
    assert [t.status().position for t in tickets[1:]] == [1, 2]
    with pytest.raises(CharmodelsError) as error:
        queue.ticket("s0", tickets[0].id)
    assert error.value.code == "request_unknown"
    running_folder = blocker._job.folder
    blocker.leave()
    wait_until(lambda: queue.running == 0 or tickets[1].status().state != WAITING, what="next")
    assert final(tickets[1]).state == DONE
    assert running_folder is None or not running_folder.exists()


def test_closing_the_live_view_leaves_the_line(queue):
    blocker = queue.submit("a", busy())
    wait_until(lambda: blocker.status().state == RUNNING, what="start")
    mine = queue.submit("b", quick(1))
    updates = mine.updates(interval=0.05)
    first = next(updates)
    assert first.state == WAITING and first.position == 1
    updates.close()  # the page went away
    assert mine.status().state == LEFT
    blocker.leave()


def test_updates_end_with_the_result_and_keep_it(queue):
    ticket = queue.submit("a", quick(1, "gru"))
    statuses = list(ticket.updates(interval=0.02))
    assert statuses[-1].state == DONE and all(not s.finished for s in statuses[:-1])
    assert statuses[-1].result.path.is_file()  # ending the loop at the final status keeps the result
    progress = [s.progress for s in statuses if s.progress is not None]
    if progress:
        assert progress[-1].step <= 300 and progress[-1].prediction


def test_async_updates_hold_no_thread_and_leave_when_cancelled(queue):
    import asyncio

    async def follow(ticket):
        return [s async for s in ticket.updates_async(interval=0.02)]

    statuses = asyncio.run(follow(queue.submit("a", quick(1))))
    assert statuses[-1].state == DONE and statuses[-1].result.path.is_file()

    blocker = queue.submit("b", busy())
    wait_until(lambda: blocker.status().state == RUNNING, what="start")
    waiting = queue.submit("c", quick(2))

    async def cancel_while_waiting():
        task = asyncio.create_task(follow(waiting))
        await asyncio.sleep(0.2)
        task.cancel()  # what Gradio does when the page goes away
        await asyncio.gather(task, return_exceptions=True)

    threads = threading.active_count()
    asyncio.run(cancel_while_waiting())
    assert threading.active_count() <= threads
    assert waiting.status().state == LEFT
    blocker.leave()


def test_two_sessions_cannot_see_each_others_requests(queue, tmp_path):
    a = queue.submit("session-a", quick(1))
    b = queue.submit("session-b", quick(2))
    final(a), final(b)
    assert queue.ticket("session-a", a.id) is a
    for owner, other in (("session-b", a), ("session-a", b)):
        with pytest.raises(CharmodelsError) as error:
            queue.ticket(owner, other.id)
        assert error.value.code == "request_unknown"  # the same answer as for an id that never existed
    with pytest.raises(CharmodelsError) as error:
        queue.ticket("session-b", "x" * 22)
    assert error.value.code == "request_unknown"
    assert queue.owned("session-b") == [b] and queue.owned("session-c") == []
    assert len({a.id, b.id}) == 2 and len(a.id) >= 22  # 128 random bits each
    path = a.status().result.path
    assert path.parent.parent.name.startswith("charmodels-queue-") and path.parent.name not in a.id + b.id
    assert a.status().result.path.parent != b.status().result.path.parent  # a folder each


def test_a_session_that_ends_takes_its_text_and_model_with_it(queue):
    a = queue.submit("a", quick(1))
    b = queue.submit("b", quick(2))
    shared = queue.submit("c", quick(2))  # the same text as b's, from another session
    path_a, path_b = final(a).result.path, final(b).result.path
    assert final(shared).result.path == path_b
    queue.end_session("a")
    assert a.status().state == LEFT and a.status().reason == "session_ended"
    assert not path_a.parent.exists()
    queue.end_session("b")
    assert path_b.is_file()  # c still holds the same work
    queue.end_session("c")
    assert not path_b.parent.exists() and queue.jobs() == 0


def test_everything_expires_after_max_age(tmp_path):
    queue = FairQueue(workers=1, max_age=4.0, folder=tmp_path, nice=0)
    try:
        mine = queue.submit("a", quick(1))
        lab = queue.submit("b", LabPoint.checked("rnn", 2, 10, 0))
        path = final(mine).result.path
        final(lab)
        assert path.is_file() and queue.jobs() == 2
        time.sleep(4.1)
        queue.sweep()
        assert mine.status().state == EXPIRED and lab.status().state == EXPIRED
        assert not path.parent.exists() and queue.jobs() == 0
        with pytest.raises(CharmodelsError):
            queue.ticket("a", mine.id)
        waiting_too_long = queue.submit("c", busy(seconds=5))
        wait_until(lambda: waiting_too_long.status().state == EXPIRED, 10, "expiry of a running request")
        wait_until(lambda: queue.running == 0, 10, "the abandoned run to end")
    finally:
        queue.close()
    assert not any(tmp_path.iterdir())  # close removes the queue's folder


def test_a_failing_work_fails_alone_and_the_worker_goes_on(queue):
    class Broken(StubWork):
        def run(self, context):
            raise CharmodelsError("text_empty")

    broken = queue.submit("a", Broken())
    after = queue.submit("b", quick(1))
    s = final(broken)
    assert (s.state, s.error) == (FAILED, "text_empty")
    assert final(after).state == DONE


def test_workers_run_below_the_apps_priority(tmp_path):
    class Niceness(StubWork):
        kind: ClassVar[str] = "probe"
        private: ClassVar[bool] = False

        def run(self, context):
            return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    queue = FairQueue(workers=1, folder=tmp_path)  # the default niceness
    try:
        me = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        assert final(queue.submit("a", Niceness())).result >= max(me, fairqueue.NICE)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == me  # this thread untouched
    finally:
        queue.close()


def test_a_text_beyond_its_budget_is_saved_as_it_is_with_a_reason(queue):
    hard = TextTraining.checked(NEVER_DONE, "gru", 8, 3, lines=True)
    s = final(queue.submit("a", hard))
    assert (s.result.state, s.result.reason) == (DONE, ALL_STEPS)
    assert s.result.path.is_file() and not s.result.metrics.meets_bar
    assert s.result.history.steps == 3


def test_requests_are_checked_before_they_wait(queue):
    for args, code in ((("", "lstm", 64, 10), "text_empty"), (("ab", "cnn", 64, 10), "not_choice"),
                       (("ab", "lstm", 4, 10), "not_whole"), (("ab", "lstm", 64, 0), "not_whole")):
        with pytest.raises(CharmodelsError) as error:
            TextTraining.checked(*args)
        assert error.value.code == code
    with pytest.raises(CharmodelsError):
        LabPoint.checked("rnn", 81, 10, 0)
    with pytest.raises(CharmodelsError):
        queue.submit("", quick(1))


def test_korean_text_through_the_queue(queue):
    text = "나는 한국 사람이고, 중국 칭다오에 아주 오래 살다가 지금은 서울에 살고 있어."
    s = final(queue.submit("a", TextTraining.checked(text, "gru", 32, 300, name="서울")))
    assert s.result.reason == LEARNED and s.result.metrics.meets_bar
    model = cm.load_checkpoint(s.result.path)
    assert "".join(step.char for step in cm.generate(model, text[0], len(text) - 1)) == text[1:]


def test_closed_queue_takes_nothing_new(tmp_path):
    queue = FairQueue(workers=1, folder=tmp_path, nice=0)
    running = queue.submit("a", busy())
    wait_until(lambda: running.status().state == RUNNING, what="start")
    started = time.monotonic()
    queue.close()
    assert time.monotonic() - started < 10  # the running work is abandoned within a pass
    with pytest.raises(CharmodelsError) as error:
        queue.submit("b", quick(1))
    assert error.value.code == "queue_closed"
    assert not any(tmp_path.iterdir())
