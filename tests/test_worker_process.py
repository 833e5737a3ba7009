"""The queue's work run in child processes (charmodels.worker_process), as the app runs it.

The same work gives the same tensors in a child process as in a thread of this one; Stop,
leaving, a failing work and a child that dies are handled as in a thread; nothing but
charmodels' own dataclasses crosses between the processes (no pickle).
"""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_queue import (  # tests/ is on the path (pytest's prepend import mode)
    StubWork,
    busy,
    final,
    wait_until,
)

from bench.app_latency import child_pids
from charmodels.corpora import Corpus
from charmodels.course import CourseComparison
from charmodels.fairqueue import DONE, FAILED, LEFT, RUNNING, FairQueue
from charmodels.jobs import BY_REQUEST, LEARNED, STOPPED, LabPoint, TextTraining
from charmodels.worker_process import decode, encode

TEXT = "Knowing is not enough; we must apply."


@pytest.fixture
def child_queue(tmp_path):
    q = FairQueue(workers=1, folder=tmp_path, nice=0, processes=True)
    try:
        yield q
    finally:
        q.close()


def test_work_and_results_cross_as_json_and_come_back_equal(tmp_path):
    for work in (TextTraining.checked("안녕하세요, 서울!", "gru", 16, 10, name="서울", lines=True),
                 LabPoint.checked("lstm", 5, 10, 3, forget_bias=True), CourseComparison.checked()):
        assert decode(encode(work)) == work
    q = FairQueue(workers=1, folder=tmp_path, nice=0)  # a real result, made in this process
    try:
        trained = final(q.submit("a", TextTraining.checked(TEXT, "lstm", 16, 5))).result
    finally:
        q.close()
    again = decode(encode(trained))
    assert again == trained and isinstance(again.path, Path) and again.history.loss == trained.history.loss


def test_only_charmodels_dataclasses_are_made_from_what_a_process_sends():
    with pytest.raises(ValueError, match="not a charmodels class"):
        decode({"@class": "subprocess:Popen", "fields": {"args": ["true"]}})
    with pytest.raises(ValueError, match="not a dataclass"):
        decode({"@class": "charmodels.fairqueue:FairQueue", "fields": {}})
    with pytest.raises(TypeError):
        encode(object())


def test_a_training_in_a_child_process_gives_the_tensors_of_one_in_this_process(tmp_path, child_queue):
    work = TextTraining.checked(TEXT, "lstm", 16, 400)
    here = FairQueue(workers=1, folder=tmp_path, nice=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the child runs it
    try:
        local = final(here.submit("a", work)).result
        tensors = load_file(local.path)
    finally:
        torch.set_num_threads(threads)
        here.close()
    remote = final(child_queue.submit("a", work)).result
    assert remote.state == DONE and remote.reason == local.reason == LEARNED
    assert remote.path.is_file() and child_queue._root in remote.path.parents  # saved where the queue keeps it
    theirs = load_file(remote.path)
    assert theirs.keys() == tensors.keys() and all(torch.equal(theirs[k], tensors[k]) for k in tensors)
    assert remote.metrics == local.metrics and remote.history.loss == local.history.loss


def test_progress_stop_and_leaving_reach_the_child(child_queue):
    running = child_queue.submit("a", busy())
    wait_until(lambda: running.status().progress is not None, what="progress from the child")
    first = running.status().progress.step
    wait_until(lambda: running.status().progress.step > first, what="more progress")
    running.stop()
    s = final(running, 30)
    assert (s.state, s.result.state, s.result.reason) == (DONE, STOPPED, BY_REQUEST) and s.result.path.is_file()
    leaving = child_queue.submit("b", busy(name="other"))
    wait_until(lambda: leaving.status().state == RUNNING, what="start")
    leaving.leave()
    assert leaving.status().state == LEFT
    after = child_queue.submit("c", TextTraining.checked("hello 1", "lstm", 16, 300))
    assert final(after, 60).state == DONE  # the same child goes on with the next work


def test_a_child_that_dies_fails_its_work_alone_and_the_next_gets_a_fresh_one(child_queue):
    running = child_queue.submit("a", busy())
    wait_until(lambda: running.status().progress is not None, what="progress from the child")
    worker = child_queue._threads[0]
    children = _children()
    assert children, "no worker process"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    s = final(running, 30)
    assert (s.state, s.error) == (FAILED, "worker_died") and worker.is_alive()
    assert final(child_queue.submit("b", TextTraining.checked("hello 2", "gru", 16, 300)), 120).state == DONE


def test_an_error_in_the_child_comes_back_as_its_code_and_work_that_cannot_cross_fails_alone(child_queue):
    one_character = dataclasses.replace(TextTraining.checked("hello 1", "lstm", 16, 5), corpus=Corpus("x", "a", "user text"))
    s = final(child_queue.submit("a", one_character), 60)
    assert (s.state, s.error) == (FAILED, "text_too_short")  # raised by memorize() over there

    @dataclasses.dataclass(frozen=True)
    class Foreign(StubWork):  # not charmodels' own: never sent
        def run(self, context):
            return None

    assert (final(child_queue.submit("b", Foreign()), 60).error) == "TypeError"
    assert final(child_queue.submit("c", TextTraining.checked("hello 3", "rnn", 16, 300)), 60).state == DONE


def _children() -> list[int]:
    """This process's worker processes."""
    return [pid for pid in child_pids(os.getpid())
            if "worker_process" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
