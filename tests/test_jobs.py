"""Training a user's text in the app (charmodels.jobs): real training on tiny models.

A text of lines that start alike ("ab" and "ac", each from a fresh state) can never
reach the quality bar (after "a" both "b" and "c" are right half the time), so it
trains for as long as a test needs and stops only when told to.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

import charmodels as cm
from charmodels import jobs, serving
from charmodels.jobs import MAX_STEPS, MAX_TEXT, TIME_LIMIT, TrainingBusyError, TrainingJob

NEVER_DONE = "\n".join(["ab", "ac"] * 20)  # lines=True: the bar is out of reach, every step is cheap


@pytest.fixture(autouse=True)
def no_job_left_running():
    """A failing test must not leave its training holding the one slot."""
    yield
    for job in list(jobs._jobs):
        job.stop()
        job.wait(60)


def endless(tmp_path, **kwargs) -> TrainingJob:
    options = dict(name="never", lines=True, out_dir=tmp_path) | kwargs
    return TrainingJob(NEVER_DONE, "rnn", 16, MAX_STEPS, **options)


def wait_for_step(job: TrainingJob, step: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while job.snapshot().step < step:
        assert time.monotonic() < deadline, f"no step {step} within {timeout} s: {job.snapshot()}"
        assert not job.finished, job.snapshot()
        time.sleep(0.01)


def test_short_text_reaches_done_and_its_checkpoint_loads_everywhere(tmp_path):
    job = TrainingJob("hihello", "lstm", 16, 300, name="hi", out_dir=tmp_path)
    final = job.wait(60)
    assert final.state == "done", final
    assert final.message.startswith("learned the text"), final.message
    result = job.result
    assert result is not None and result.state == "done"
    assert result.path == tmp_path / "hi-lstm.safetensors" and result.path.is_file()
    assert final.path == str(result.path) and final.metrics == result.metrics
    assert result.metrics.meets_bar and result.history.reached and not result.history.stopped
    assert list(tmp_path.iterdir()) == [result.path]  # written atomically: no temporary file left

    model = cm.load_checkpoint(result.path)
    assert model.config == cm.ModelConfig("lstm", 16)
    assert model.info["metrics"] == result.metrics.to_dict()
    assert model.info["corpus"]["text"] == "hihello" and model.info["corpus"]["name"] == "hi"
    assert model.info["job"] == {"state": "done", "requested_steps": 300, "time_limit": TIME_LIMIT}
    assert model.info["train_config"]["attempts"] == 1 and model.info["train_config"]["max_steps"] == 300
    assert model.info["history"]["steps"] == final.step <= 300
    assert "".join(s.char for s in cm.generate(model, "h", 6)) == "ihello"
    assert "".join(s.char for s in cm.generate(result.model, "h", 6)) == "ihello"

    key = serving.register_upload(result.path)  # the app's upload path
    assert serving.next_chars(key, "hihell")[0][0][0] == "o"
    assert serving.history(key)["steps"] == final.step


def test_updates_stream_a_growing_loss_curve_and_end_done(tmp_path):
    job = TrainingJob("hello, world", "gru", 16, 400, out_dir=tmp_path)
    snaps = list(job.updates(interval=0.01))
    assert [s.state for s in snaps[:-1]] == ["running"] * (len(snaps) - 1)
    assert snaps[-1].state == "done" and snaps[-1].path and job.finished
    assert snaps[0].step == 0 and snaps[0].loss == ()
    steps = [s.step for s in snaps]
    assert steps == sorted(steps) and len(set(steps)) >= 3, steps
    for snap in snaps[1:]:
        assert snap.loss and snap.loss[-1][0] == snap.step  # the latest step is always on the curve
        assert [step for step, _ in snap.loss] == sorted({step for step, _ in snap.loss})
        assert len(snap.prediction) == len("hello, world") and snap.attempt == 1
    assert len(snaps[-1].loss) >= len(snaps[1].loss)
    assert snaps[-1].loss[-1][1] < snaps[1].loss[0][1]  # it learned something
    assert [s.elapsed for s in snaps] == sorted(s.elapsed for s in snaps)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snaps[-1].state = "running"  # type: ignore[misc]


def test_a_run_through_all_steps_is_done_with_a_thinned_curve(tmp_path):
    job = TrainingJob(NEVER_DONE, "rnn", 8, 700, lines=True, out_dir=tmp_path)
    final = job.wait(60)
    assert final.state == "done" and final.step == 700
    assert "used all 700 steps" in final.message
    assert 100 <= len(final.loss) <= jobs.CURVE_POINTS and final.loss[0][0] == 1 and final.loss[-1][0] == 700
    assert not job.result.history.reached and not job.result.history.stopped
    with pytest.raises(ValueError, match="interval"):
        job.updates(interval=0)


def test_stop_ends_in_stopped_with_a_saved_loadable_checkpoint(tmp_path):
    job = endless(tmp_path)
    wait_for_step(job, 3)
    job.stop()
    final = job.wait(60)
    assert final.state == "stopped", final
    assert 3 <= final.step < MAX_STEPS and "stopped at step" in final.message
    model = cm.load_checkpoint(final.path)
    assert model.info["history"]["stopped"] is True and model.info["job"]["state"] == "stopped"
    assert model.info["history"]["steps"] == final.step
    assert serving.register_upload(final.path).startswith(serving.UPLOAD_PREFIX)


def test_time_limit_ends_in_timed_out(tmp_path):
    job = endless(tmp_path, time_limit=1.0)
    final = job.wait(60)
    assert final.state == "timed out", final
    assert 1.0 <= final.elapsed < 30 and 1 <= final.step < MAX_STEPS
    assert "time limit of 1 s" in final.message
    model = cm.load_checkpoint(final.path)
    assert model.info["history"]["stopped"] is True and model.info["job"]["state"] == "timed out"


def test_closing_the_updates_early_stops_the_job(tmp_path):
    job = endless(tmp_path)
    updates = job.updates(interval=0.01)
    for snap in updates:
        if snap.step >= 2:
            break
    updates.close()  # what a cancelled Gradio event does to its generator
    final = job.wait(60)
    assert final.state == "stopped" and final.step < MAX_STEPS
    assert cm.load_checkpoint(final.path).info["history"]["stopped"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": ""}, "the text is empty"),
        ({"text": " \n "}, "the text is empty"),
        ({"text": None}, "the text is empty"),
        ({"text": "a" * MAX_TEXT + "b"}, f"the text is {MAX_TEXT + 1:,} characters long; the limit is {MAX_TEXT:,}"),
        ({"text": "aaaa"}, "only one character"),
        ({"cell": "transformer"}, "unknown cell type 'transformer'; choose one of: rnn, lstm, gru"),
        ({"hidden_size": 7}, "hidden size must be a whole number from 8 to 256, got 7"),
        ({"hidden_size": 257}, "hidden size must be a whole number from 8 to 256"),
        ({"hidden_size": 16.5}, "hidden size must be a whole number"),
        ({"hidden_size": True}, "hidden size must be a whole number"),
        ({"hidden_size": "16"}, "hidden size must be a whole number"),
        ({"max_steps": 0}, f"steps must be a whole number from 1 to {MAX_STEPS:,}, got 0"),
        ({"max_steps": MAX_STEPS + 1}, "steps must be a whole number"),
        ({"time_limit": 0}, "time limit"),
        ({"time_limit": TIME_LIMIT + 1}, "time limit"),
        ({"name": "my text!"}, "corpus name"),
    ],
)
def test_requests_are_checked_before_anything_starts(kwargs, message):
    request = {"text": "hello", "cell": "lstm", "hidden_size": 16, "max_steps": 100} | kwargs
    with pytest.raises(ValueError) as error:
        TrainingJob(**request)
    assert message in str(error.value)
    assert not isinstance(error.value, TrainingBusyError)
    assert all(job.finished for job in jobs._jobs)  # nothing started, no slot taken


def test_a_ui_number_like_128_0_is_accepted(tmp_path):
    job = TrainingJob("abab", "LSTM", 16.0, 50.0, out_dir=tmp_path)
    assert job.wait(60).state == "done"
    assert job.model_config == cm.ModelConfig("lstm", 16) and job.train_config.max_steps == 50


def test_a_second_training_is_refused_at_once_and_allowed_after(tmp_path):
    first = endless(tmp_path / "first")
    wait_for_step(first, 1)
    started = time.monotonic()
    with pytest.raises(TrainingBusyError, match="another training is running; try again when it ends"):
        TrainingJob("hihello", "rnn", 16, 100, out_dir=tmp_path / "second")
    assert time.monotonic() - started < 1.0  # refused at once, not queued
    assert isinstance(TrainingBusyError("x"), ValueError)  # the app shows ValueErrors as messages
    with pytest.raises(ValueError, match="unknown cell type"):  # a bad request still hears what is wrong
        TrainingJob("hihello", "cnn", 16, 100)
    assert first.snapshot().state == "running"
    first.stop()
    assert first.wait(60).state == "stopped"
    second = TrainingJob("hihello", "rnn", 16, 300, out_dir=tmp_path / "second")
    assert second.wait(60).state == "done"


def test_a_failed_save_ends_failed_and_frees_the_slot(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    job = TrainingJob("hihello", "rnn", 16, 5, out_dir=blocker)
    final = job.wait(60)
    assert final.state == "failed" and final.message.startswith("training failed:"), final
    assert job.result is None and final.path is None
    assert TrainingJob("hihello", "rnn", 16, 5, out_dir=tmp_path).wait(60).state == "done"


def test_korean_text_trains_and_round_trips(tmp_path):
    text = "나는 한국 사람이고, 한국어를 잘해"
    job = TrainingJob(text, "gru", 32, 600, name="한국어", out_dir=tmp_path)
    final = job.wait(60)
    assert final.state == "done" and final.metrics.meets_bar, final
    assert final.prediction == text
    model = cm.load_checkpoint(final.path)
    assert final.path.endswith("한국어-gru.safetensors")
    assert model.info["corpus"]["text"] == text
    assert "".join(s.char for s in cm.generate(model, "나", len(text) - 1)) == text[1:]
    key = serving.register_upload(final.path)
    assert serving.next_chars(key, "나는 한국 ")[0][0][0] == "사"


def test_a_text_of_the_full_length_can_be_measured_and_saved(tmp_path):
    # evaluate()'s reconstruction generates the whole text in one generate() call, which
    # has its own length limit: MAX_TEXT must stay within it
    text = ("abcdefghij" * (MAX_TEXT // 10 + 1))[:MAX_TEXT]
    job = TrainingJob(text, "rnn", 8, 1, out_dir=tmp_path)
    final = job.wait(60)
    assert final.state == "done", final
    assert cm.load_checkpoint(final.path).info["corpus"]["chars"] == MAX_TEXT


def test_read_text_file(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes("\ufeff안녕\r\nhello\r\n".encode())
    assert jobs.read_text_file(good) == "안녕\nhello\n"
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        jobs.read_text_file(latin)
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"ab\x00cd")
    with pytest.raises(ValueError, match="binary"):
        jobs.read_text_file(binary)
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"a" * (jobs.MAX_FILE_BYTES + 1))
    with pytest.raises(ValueError, match=f"{jobs.MAX_FILE_BYTES + 1:,} bytes"):
        jobs.read_text_file(huge)
