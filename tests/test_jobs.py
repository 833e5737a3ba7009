"""The app's trainings as queue work (charmodels.jobs): what a request may ask, checked before
it waits, and what a finished one leaves. The line itself (order, sharing, leaving, sessions)
is tests/test_queue.py's; these run real, tiny trainings through a real FairQueue.

Refusals are CharmodelsErrors with codes: the app words them (tests/app/ checks the words,
in English and Korean).
"""

from __future__ import annotations

import pytest

import charmodels as cm
from charmodels import jobs, serving
from charmodels.errors import CharmodelsError
from charmodels.fairqueue import FairQueue
from charmodels.jobs import MAX_STEPS, MAX_TEXT, TIME_LIMIT, LabPoint, TextTraining


@pytest.fixture
def queue(tmp_path):
    line = FairQueue(workers=1, nice=0, folder=tmp_path)
    yield line
    line.close()


def finished(ticket, timeout: float = 120):
    for status in ticket.updates(interval=0.05):
        if status.finished:
            return status
    raise AssertionError("no final status")


@pytest.mark.parametrize(
    ("kwargs", "code", "params"),
    [
        ({"text": ""}, "text_empty", {}),
        ({"text": " \n "}, "text_empty", {}),
        ({"text": None}, "text_empty", {}),
        ({"text": 42}, "not_text", {"name": "text"}),
        ({"text": "a" * MAX_TEXT + "b"}, "text_too_long", {"n": MAX_TEXT + 1, "limit": MAX_TEXT, "over": 1}),
        ({"text": "aaaa"}, "text_one_char", {"char": "'a'"}),
        ({"text": "\n\n\n"}, "text_empty", {}),
        ({"cell": "transformer"}, "not_choice", {"name": "cell", "choices": "rnn, lstm, gru"}),
        ({"hidden_size": 7}, "not_whole", {"name": "hidden size", "low": "8", "high": "256", "got": "7"}),
        ({"hidden_size": 257}, "not_whole", {"name": "hidden size"}),
        ({"hidden_size": 16.5}, "not_whole", {"name": "hidden size"}),
        ({"hidden_size": True}, "not_whole", {"name": "hidden size"}),
        ({"hidden_size": "16"}, "not_whole", {"name": "hidden size"}),
        ({"steps": 0}, "not_whole", {"name": "steps", "low": "1", "high": f"{MAX_STEPS:,}"}),
        ({"steps": MAX_STEPS + 1}, "not_whole", {"name": "steps"}),
        ({"time_limit": 0}, "not_number_above", {"name": "time limit"}),
        ({"time_limit": TIME_LIMIT + 1}, "not_number_above", {"name": "time limit"}),
        ({"name": "my text!"}, "corpus_name", {}),
    ],
)
def test_text_requests_are_checked_before_they_wait(kwargs, code, params):
    request = {"text": "hello", "cell": "lstm", "hidden_size": 16, "steps": 100} | kwargs
    with pytest.raises(CharmodelsError) as error:
        TextTraining.checked(**request)
    assert error.value.code == code
    assert params.items() <= error.value.params.items(), error.value.params


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"cell": "cnn"}, "not_choice"), ({"gap": 0}, "not_whole"), ({"gap": jobs.LAB_MAX_GAP + 1}, "not_whole"),
     ({"steps": jobs.LAB_MAX_STEPS + 1}, "not_whole"), ({"seed": -1}, "not_whole")],
)
def test_lab_requests_are_checked_before_they_wait(kwargs, code):
    request = {"cell": "rnn", "gap": 2, "steps": 50, "seed": 0} | kwargs
    with pytest.raises(CharmodelsError) as error:
        LabPoint.checked(**request)
    assert error.value.code == code


def test_a_ui_number_like_128_0_is_accepted_and_settings_give_the_key():
    work = TextTraining.checked("abab", "LSTM", 16.0, 50.0)
    assert work.model_config == cm.ModelConfig("lstm", 16) and work.config.max_passes == 50
    assert TextTraining.checked("abab", "lstm", 16, 50).key == work.key  # equal requests share one run
    assert TextTraining.checked("abab", "gru", 16, 50).key != work.key
    assert TextTraining.checked("abab", "lstm", 16, 50, lines=True).key != work.key
    # the forget-gate option is the LSTM's alone: an RNN point asked with it is the same point
    assert LabPoint.checked("rnn", 3, 50, 0, forget_bias=True).key == LabPoint.checked("rnn", 3, 50, 0).key


def test_a_trained_text_is_a_checkpoint_the_app_and_the_library_load(queue):
    text = "나는 한국 사람이고, 한국어를 잘해"
    status = finished(queue.submit("student", TextTraining.checked(text, "gru", 32, 600, name="한국어")))
    assert status.state == "done", status
    trained = status.result
    assert (trained.state, trained.reason) == ("done", "learned") and trained.metrics.meets_bar, trained
    assert trained.path.name == "한국어-gru.safetensors"
    model = cm.load_checkpoint(trained.path)
    assert model.info["corpus"]["text"] == text
    assert model.info["job"] == {"state": "done", "requested_steps": 600, "time_limit": jobs.QUEUE_TIME_LIMIT}
    assert "".join(s.char for s in cm.generate(model, "나", len(text) - 1)) == text[1:]
    key = serving.register_upload(trained.path)
    assert cm.next_char_probs(serving.get_model(key), "나는 한국 ")[0][0] == "사"
    serving.forget(key)


def test_a_text_of_the_full_length_can_be_measured_and_saved(queue):
    # issue 9, defect 1: the limit was 10,000 because evaluate() generated the text to measure it
    assert MAX_TEXT >= 50_000
    text = ("abcdefghij" * (MAX_TEXT // 10 + 1))[:MAX_TEXT]
    status = finished(queue.submit("student", TextTraining.checked(text, "rnn", 8, 1)))
    assert status.state == "done", status
    assert cm.load_checkpoint(status.result.path).info["corpus"]["chars"] == MAX_TEXT


def test_read_text_file(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes("\ufeff안녕\r\nhello\r\n".encode())
    assert jobs.read_text_file(good) == "안녕\nhello\n"
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(CharmodelsError) as error:
        jobs.read_text_file(latin)
    assert (error.value.code, error.value.params) == ("file_not_utf8", {"at": 3})
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"ab\x00cd")
    with pytest.raises(CharmodelsError) as error:
        jobs.read_text_file(binary)
    assert error.value.code == "file_binary"
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"a" * (jobs.MAX_FILE_BYTES + 1))
    with pytest.raises(CharmodelsError) as error:
        jobs.read_text_file(huge)
    assert error.value.code == "file_too_large" and error.value.params == {"size": jobs.MAX_FILE_BYTES + 1, "limit": MAX_TEXT}
    assert str(tmp_path) not in str(error.value)


def test_the_old_refusing_path_is_gone():
    """Issue 14: one fair line, never a refusal; the one-slot TrainingJob that refused a second visitor is gone."""
    assert not hasattr(jobs, "TrainingJob") and not hasattr(jobs, "TrainingBusyError")
