"""The app's fair training line and its named /train endpoint, through real gradio_client
sessions against the real server (issue 14, items 1, 3, 7, 8).

Each gradio_client Client is its own session, as each student's page is. Trainings are real
and tiny. The server runs in this process (conftest.py), so a test can also look at the
queue itself: what a session holds, never what it may see.
"""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from charmodels.checkpoint import load_checkpoint
from charmodels.errors import CharmodelsError
from charmodels.jobs import training_queue
from demo import service
from test_queue import assert_later_places_start_later  # tests/ is on the path (its conftest.py)

NEVER_DONE = "\n".join(["ab", "ac"] * 20)  # lines=True: the bar is out of reach, every pass is cheap
# lines of 200 equal characters ending in x or y (each line from a fresh state): the last character
# can never be learned, and a pass costs enough that 3,000 take minutes (about 40 s for 900 here)
_PREFIX = "".join(random.Random(0).choices("abcdefghij ", k=200))
HEAVY_NEVER_DONE = "\n".join([_PREFIX + "x", _PREFIX + "y"] * 20)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


@pytest.fixture
def clients(server_url):
    """clients(n): n more sessions (gradio_client Clients), closed afterwards."""
    made = []

    def make(n: int) -> list[Client]:
        made.extend(Client(server_url, verbose=False, download_files=False) for _ in range(n))
        return made[-n:]

    yield make
    for client in made:
        service.end_session(client.session_hash)
        client.close()


def blockers(n: int) -> list:
    """n trainings that keep the queue's workers busy until stopped, or for two minutes at most (not
    a page's 30 s: a busy machine may take that long to open pages); each its own work (equal requests
    would share one run)."""
    from charmodels.jobs import TIME_LIMIT, TextTraining, training_queue

    tickets = [training_queue().submit(f"blocker-{time.monotonic_ns()}-{i}", TextTraining.checked(
                   HEAVY_NEVER_DONE, "gru", 64, 3000, name=f"never{i}", lines=True, time_limit=TIME_LIMIT)) for i in range(n)]
    wait_until(lambda: all(t.status().state == "running" for t in tickets), what="busy workers")
    return tickets


def test_eight_concurrent_trainings_all_complete_none_refused_positions_in_order(clients):
    from charmodels.jobs import queue_workers

    busy = blockers(queue_workers())  # every worker busy: the eight students all wait in line
    students = clients(8)
    texts = [f"student {i} says hello {i} times, hello {i}" for i in range(8)]  # eight different texts: no sharing
    streams: list[list] = [[] for _ in students]
    barrier = threading.Barrier(8)

    def student(i: int):
        barrier.wait()
        job = students[i].submit(texts[i], ("rnn", "lstm", "gru")[i % 3], 32, 600, False, api_name="/train")
        for status, _ in job:
            streams[i].append(status)
        return job.result()

    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(student, i) for i in range(8)]
            wait_until(lambda: all(service.owned(c.session_hash, "text") is not None for c in students), what="eight in line")
            # each has its own place in line, none refused; a later place starts later, within its bound
            statuses = [service.owned(c.session_hash, "text").status() for c in students]
            assert all(s.state == "waiting" for s in statuses), statuses
            assert sorted(s.position for s in statuses) == list(range(1, 9))
            assert_later_places_start_later(statuses, "start_expected")
            assert all(s.start_expected <= s.start_at_most and s.end_expected <= s.end_at_most for s in statuses)
            wait_until(lambda: all(stream for stream in streams), what="a first status for each")
            for ticket in busy:
                ticket.stop()
            results = [future.result(timeout=300) for future in futures]
    finally:
        for ticket in busy:
            ticket.leave()
    for i, (status, checkpoint) in enumerate(results):
        assert status["state"] == "done" and status["reason"] == "learned" and status["meets_bar"], status
        assert checkpoint["url"] and checkpoint["orig_name"] == f"mytext-{('rnn', 'lstm', 'gru')[i % 3]}.safetensors"
        waited = [s["position"] for s in streams[i] if s["state"] == "waiting"]
        assert waited and all(1 <= p <= 8 for p in waited), streams[i]
        assert waited == sorted(waited, reverse=True), waited  # a place only ever moves forward
        assert all(s["start_expected"] <= s["start_at_most"] for s in streams[i] if s["state"] == "waiting")


def test_train_endpoint_streams_and_returns_the_checkpoint(clients, tmp_path):
    (teacher,) = clients(1)
    job = teacher.submit("abcabd abcabd", "GRU", 16.0, 300, False, api_name="/train")  # a page's 16.0 is a whole number
    streamed = [status for status, _ in job]
    status, offered = job.result()
    assert offered["orig_name"] == "mytext-gru.safetensors" and "/gradio_api/file=" in offered["url"]
    assert streamed[-1] == status and status["state"] == "done" and status["reason"] == "learned", status
    assert status["message"].startswith("learned the text in") and status["metrics"]["tf_acc"] == 1.0
    running = [s for s in streamed if s["state"] == "running" and "step" in s]
    if running:  # a tiny text can end before its first report is sent
        assert {"step", "max_steps", "loss", "prediction", "end_expected", "end_at_most"} <= running[-1].keys()
    # the file, as a teacher's script downloads it
    downloader = Client(teacher.src, verbose=False, download_files=str(tmp_path))
    try:
        _, path = downloader.predict("abcabd abcabd", "gru", 16, 300, False, api_name="/train")
    finally:
        downloader.close()
    model = load_checkpoint(path)
    assert model.info["corpus"]["text"] == "abcabd abcabd" and model.config.cell == "gru"
    assert model.config.hidden_size == 16
    # named parameters, as the API page shows them
    names = [p["parameter_name"] for p in teacher.view_api(print_info=False, return_format="dict")["named_endpoints"]["/train"]["parameters"]]
    assert names == ["text", "cell", "hidden_size", "steps", "lines"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("aaaa",), "the text uses only one character ('a')"),
        (("", "lstm"), "the text is empty"),
        (("hello", "cnn"), "cell must be one of: rnn, lstm, gru; got 'cnn'"),
        (("hello", "lstm", 7), "hidden size must be a whole number from 8 to 256, got 7"),
        (("hello", "lstm", 64, 3001), "steps must be a whole number from 1 to 3,000"),
        (("ab" * 25_000 + "c",), "the text is 50,001 characters long; the limit is 50,000"),
    ],
)
def test_train_endpoint_has_the_tabs_bounds_and_errors(client, args, said):
    with pytest.raises(AppError) as error:
        client.predict(*args, api_name="/train")
    assert said in str(error.value), str(error.value)
    assert "/tmp" not in str(error.value)


def test_a_text_that_cannot_reach_the_bar_is_saved_as_it_is_and_said_plainly(clients):
    (student,) = clients(1)
    status, checkpoint = student.predict(NEVER_DONE, "rnn", 16, 5, True, api_name="/train")
    assert status["state"] == "done" and status["reason"] == "all_steps" and not status["meets_bar"], status
    assert status["message"].startswith("did not reach the quality bar within its 5 steps: saved as it is.")
    assert "of the text" in status["message"] and "p = " in status["message"]
    assert checkpoint["url"]


def test_two_sessions_cannot_see_each_others_tickets_or_models(clients):
    first, second = clients(2)
    a, b = first.session_hash, second.session_hash
    job = first.submit(NEVER_DONE, "rnn", 16, 3000, True, api_name="/train")  # runs until stopped
    try:
        wait_until(lambda: service.owned(a, "text") is not None, what="the first session's ticket")
        mine = service.owned(a, "text")
        assert service.owned(b, "text") is None  # nothing of the first session's is the second's
        with pytest.raises(CharmodelsError) as error:
            service.ticket(b, mine.id)  # the id alone is not enough: "no such request", as for any id
        assert error.value.code == "request_unknown"
        assert service.ticket(a, mine.id) is mine
        assert all(t.owner != a for t in training_queue().owned(b))
        # the second session's Stop (handlers.on_stop_training) has no ticket to stop: the first runs on
        wait_until(lambda: mine.status().state == "running", what="the first training running")
        assert service.owned(b, "text") is None
    finally:
        mine = service.owned(a, "text")
        if mine is not None:
            mine.stop()
    status, checkpoint = job.result(timeout=120)
    assert status["reason"] == "by_request" and checkpoint["url"]

    # each session's own models: kept while a session holds them, gone with the last one
    trained = service.start_training(a, "xyzxyw xyzxyw", "mine", "rnn", 16, 300)[0]
    wait_until(lambda: trained.status().finished, 120, "a model of the first session")
    status_path = trained.status().result.path
    key = service.register_own(a, status_path)
    assert service.serving.get_model(key) is not None
    service.end_session(a)
    assert not status_path.exists()  # its text's checkpoint went with the session
    with pytest.raises(CharmodelsError) as error:
        service.serving.get_model(key)
    assert error.value.code == "upload_gone"


def test_a_model_two_sessions_hold_stays_until_the_last_one_ends(tmp_path):
    import charmodels as cm

    model = cm.CharModel(cm.ModelConfig("rnn", 8), cm.Vocab("ab"))
    path = cm.save_checkpoint(model, tmp_path / "shared.safetensors")
    key = service.register_own("session-one", path)
    assert service.register_own("session-two", path) == key  # the same file, one entry
    service.end_session("session-one")
    assert service.serving.get_model(key) is not None  # the second still holds it
    service.end_session("session-two")
    with pytest.raises(CharmodelsError):
        service.serving.get_model(key)


def test_five_hundred_concurrent_requests_from_one_session_never_fail(clients):
    """Issue 14, item 8: concurrent requests from one session ended in CancelledError (4 of 144, sent
    12 at a time from 8 threads). Gradio 6.31 closes a session's stream when its last pending event
    completes; a request joined at that moment is registered by the client against the closing stream
    and its answer is never read. Rounds that each end with nothing pending make that moment come
    often. The page keeps its stream open with the keep_session_open event (demo.load); a script does
    the same by submitting it once."""
    (session,) = clients(1)
    keep = session.submit(api_name="/keep_session_open")
    wait_until(lambda: keep.status().code.name == "PROCESSING", 60, "the session kept open")
    failures: dict[str, int] = {}

    def one(i: int):
        if i % 5 == 4:
            return session.submit("anthem-lstm", "O say", 20, 0.0, 0, 1.0, 0, api_name="/generate").result(timeout=120)
        return session.submit("goethe-lstm", "Knowing is not enough; we must "[: 1 + i % 30], api_name="/next_chars").result(timeout=120)

    started = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for round_start in range(0, 500, 20):  # 25 rounds of 20, each finished before the next
                for future in [pool.submit(one, i) for i in range(round_start, round_start + 20)]:
                    try:
                        future.result()
                    except BaseException as error:  # noqa: BLE001 (counted: CancelledError is not an Exception)
                        failures[type(error).__name__] = failures.get(type(error).__name__, 0) + 1
    finally:
        keep.cancel()
    assert failures == {}, f"{sum(failures.values())} of 500 failed: {failures}"
    assert time.monotonic() - started < 240


@pytest.fixture
def late_reader(monkeypatch):
    """The client's event-stream reader made late to read the server's close_stream (as a busy machine
    makes a thread late): the race of item 8 then happens every time instead of now and then."""
    import json
    import types

    from gradio_client import client as client_module

    def loads(text, *args, **kwargs):
        message = json.loads(text, *args, **kwargs)
        if isinstance(message, dict) and message.get("msg") == "close_stream":
            time.sleep(0.3)
        return message

    monkeypatch.setattr(client_module, "json", types.SimpleNamespace(**{**vars(json), "loads": loads}))


@pytest.mark.parametrize("kept_open", [True, False])
def test_a_request_sent_as_the_stream_closes_is_answered_while_the_session_is_kept_open(clients, late_reader, kept_open):
    """The mechanism of item 8, made certain: a request sent right after another's answer, while the
    reader has yet to read the close_stream that answer caused, was lost (CancelledError). With the
    session kept open (keep_session_open, as every page does) the stream never closes."""
    (session,) = clients(1)
    keep = session.submit(api_name="/keep_session_open") if kept_open else None
    if keep is not None:  # held by the server before the first answer closes anything (a busy machine is slow to start it)
        wait_until(lambda: keep.status().code.name == "PROCESSING", 60, "the session kept open")
    outcomes = []
    try:
        for _ in range(3):
            session.submit("goethe-lstm", "Know", api_name="/next_chars").result(timeout=60)
            try:
                session.submit("goethe-lstm", "Knowing", api_name="/next_chars").result(timeout=60)
                outcomes.append("ok")
            except BaseException as error:  # noqa: BLE001 (CancelledError is not an Exception)
                outcomes.append(type(error).__name__)
            time.sleep(0.5)
    finally:
        if keep is not None:
            keep.cancel()
    if kept_open:
        assert outcomes == ["ok"] * 3
    else:  # the race itself, still in Gradio 6.31 / gradio_client 2.7: this documents why the app keeps pages open
        assert "CancelledError" in outcomes, outcomes


def test_a_class_of_open_pages_leaves_room_for_every_request(clients):
    """Each open page holds its keep_session_open event, and each training waiting in line its event,
    for minutes; Gradio counts them against max_threads (40 by default): with 41 pages open no other
    request was ever answered. 45 open pages, and a request is answered at once."""
    pages = clients(45)
    keeps = [page.submit(api_name="/keep_session_open") for page in pages]
    try:
        wait_until(lambda: all(job.status().code.name == "PROCESSING" for job in keeps), 60, "45 pages kept open")
        started = time.monotonic()
        probs, _ = pages[0].predict("goethe-lstm", "Knowing is not enough; we must ", api_name="/next_chars")
        assert next(iter(probs)) == "a" and time.monotonic() - started < 10
    finally:
        for job in keeps:
            job.cancel()
