"""The app's named API endpoints, through a real server and real gradio_client clients.

`/next_chars` (checkpoint, prompt) -> ({char: prob} top 10, notes) and
`/generate` (checkpoint, prompt, length, temperature, top_k, top_p, seed), streaming
(text so far, the record of the step just written).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app  # demo/app.py, put on sys.path by conftest.py
from charmodels import serving
from charmodels.corpora import CORPORA
from charmodels.errors import CharmodelsError, CheckpointError
from demo import service

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")  # pandas 3 inside Gradio's queue

GOETHE_LONG = "Knowing is not enough; we must apply. Willing is not enough; we must "


def generate(client: Client, checkpoint: str, prompt: str, length: int, temperature=0.0, top_k=0, top_p=1.0, seed=0):
    text, _record = client.predict(checkpoint, prompt, length, temperature, top_k, top_p, seed, api_name="/generate")
    return text


def next_chars(client: Client, checkpoint: str, prompt: str) -> tuple[dict[str, float], str]:
    probs, notes = client.predict(checkpoint, prompt, api_name="/next_chars")
    return probs, notes


def assert_still_serving(client: Client) -> None:
    """A normal request right after a bad one: the server has not been knocked over."""
    probs, notes = next_chars(client, "goethe-lstm", "Knowing is not enough; we must ")
    assert next(iter(probs)) == "a" and notes == ""
    assert generate(client, "goethe-lstm", "K", 6) == "nowing"


# ---- the API's shape ----


def test_view_api_lists_exactly_the_named_endpoints(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/next_chars", "/generate", "/train"}  # /keep_session_open: undocumented
    assert not api["unnamed_endpoints"]

    def params(endpoint):
        return {p["parameter_name"]: p for p in api["named_endpoints"][endpoint]["parameters"]}

    assert list(params("/next_chars")) == ["checkpoint", "prompt"]
    generate_params = params("/generate")
    assert list(generate_params) == ["checkpoint", "prompt", "length", "temperature", "top_k", "top_p", "seed"]
    # sampling filters are off by default, decoding greedy
    assert generate_params["top_k"]["parameter_has_default"] and generate_params["top_k"]["parameter_default"] == 0
    assert generate_params["top_p"]["parameter_has_default"] and generate_params["top_p"]["parameter_default"] == 1
    assert generate_params["temperature"]["parameter_default"] == 0


# ---- next_chars ----


@pytest.mark.parametrize(
    "checkpoint, prompt",
    [
        ("goethe-lstm", "Knowing is not enough; we must "),
        ("anthem-gru", "O say can you see, by the "),
        ("seoul-rnn", " seoul is the capital of "),
        ("pets-lstm", "you love "),
        ("tsingtao-gru", "나는 한국 사람이고, 중국 "),
        ("hihello-rnn", "hihell"),
    ],
)
def test_next_chars_is_a_sorted_top_ten_distribution(client, checkpoint, prompt):
    probs, notes = next_chars(client, checkpoint, prompt)
    values = list(probs.values())
    assert 1 <= len(probs) <= 10
    assert all(0 <= p <= 1 for p in values)
    assert sum(values) <= 1 + 1e-9
    assert values == sorted(values, reverse=True)
    assert all(len(char) == 1 for char in probs)  # raw characters (the page draws ␣ and ⏎, the API does not)
    assert notes == ""  # a prompt the model can read needs no note


def test_next_chars_remembers_the_long_context(client):
    """Only a model that remembers `Willing`, 28 characters back, says `do` after the second `we must `."""
    probs, _ = next_chars(client, "goethe-lstm", GOETHE_LONG)
    assert next(iter(probs)) == "d"
    probs, _ = next_chars(client, "goethe-lstm", "Knowing is not enough; we must ")
    assert next(iter(probs)) == "a"


# ---- generate ----


@pytest.mark.parametrize("checkpoint", ["goethe-lstm", "anthem-gru", "tsingtao-rnn", "boat-lstm", "seoul-gru"])
def test_greedy_generation_recites_the_corpus(client, checkpoint):
    text = CORPORA[checkpoint.split("-")[0]].text
    assert generate(client, checkpoint, text[0], len(text) - 1) == text[1:]


def test_seeded_sampling_is_reproducible_and_seeds_differ(client):
    args = ("anthem-rnn", "O say", 120, 1.5, 0, 1.0)
    first = generate(client, *args, seed=7)
    assert len(first) == 120
    assert generate(client, *args, seed=7) == first
    assert generate(client, *args, seed=8) != first
    # -1 means a fresh random seed every time
    assert generate(client, *args, seed=-1) != generate(client, *args, seed=-1)


def test_length_0_writes_nothing(client):
    assert client.predict("goethe-lstm", "K", 0, 0.0, 0, 1.0, 0, api_name="/generate") == ["", None]


def test_top_k_1_is_greedy(client):
    greedy = generate(client, "boat-gru", "T", 30)
    assert generate(client, "boat-gru", "T", 30, temperature=1.5, top_k=1, seed=3) == greedy


def test_generation_streams_one_character_at_a_time(client):
    job = client.submit("anthem-gru", "O", 40, 0.8, 0, 0.9, 11, api_name="/generate")
    texts = []
    for text, record in job:
        previous = texts[-1] if texts else ""
        assert len(text) == len(previous) + 1 and text.startswith(previous)
        assert record["char"] == text[-1]
        assert 0 < record["prob"] <= 1
        texts.append(text)
    assert len(texts) == 40
    assert job.status().success
    assert job.outputs()[-1][0] == texts[-1]
    # the stream ends where a plain call with the same request ends
    assert generate(client, "anthem-gru", "O", 40, 0.8, 0, 0.9, 11) == texts[-1]


@pytest.mark.parametrize("top_k, top_p", [(0, 0.9), (0, 0.99), (8, 1.0), (0, 1.0)])
def test_streamed_step_records_are_exact(client, top_k, top_p):
    """Every streamed record equals the step the library generated, even when the set of characters
    sampled from changes size from one step to the next (Gradio sends each yield as a diff)."""
    request = service.check_request(60, 1.3, top_k, top_p, 5)
    _, _, steps = service.stream("anthem-rnn", "O say", request)
    expected = [service.step_record(step) for step in steps]
    sizes = {sum(p > 0 for _, p in record["top"]) for record in expected}
    streamed = [record for _, record in client.submit("anthem-rnn", "O say", 60, 1.3, top_k, top_p, 5, api_name="/generate")]
    assert len(streamed) == len(expected)
    for got, want in zip(streamed, expected):
        assert (got["char"], got["prob"]) == (want["char"], want["prob"])
        assert [tuple(pair) for pair in got["model_top"]] == [tuple(pair) for pair in want["model_top"]]
        assert [tuple(pair) for pair in got["top"]] == [tuple(pair) for pair in want["top"]]
    if top_p < 1:
        assert len(sizes) > 1  # the case that matters: the sampled-from set shrinks and grows


# ---- bad input: a clear error or a documented handling, and the server keeps serving ----


def test_empty_prompt_starts_at_the_corpus_first_character(client):
    for checkpoint in ("goethe-lstm", "tsingtao-gru"):
        first = CORPORA[checkpoint.split("-")[0]].text[0]
        probs, notes = next_chars(client, checkpoint, "")
        assert f"'{first}'" in notes and "mpty" in notes
        assert (probs, "") == next_chars(client, checkpoint, first)
        assert generate(client, checkpoint, "", 10) == generate(client, checkpoint, first, 10)
    assert_still_serving(client)


def test_unknown_characters_are_named_and_left_out(client):
    probs, notes = next_chars(client, "goethe-lstm", "Know#ing zq")
    assert "'#'" in notes and "'z'" in notes and "'q'" in notes
    assert "'K'" not in notes
    assert probs == next_chars(client, "goethe-lstm", "Knowing ")[0]
    assert_still_serving(client)


def test_emoji_are_unknown_characters(client):
    probs, notes = next_chars(client, "goethe-lstm", "Know😀ing 🎉")
    assert "😀" in notes and "🎉" in notes
    assert probs == next_chars(client, "goethe-lstm", "Knowing ")[0]
    # nothing readable left: start at the corpus's first character, and say so
    probs, notes = next_chars(client, "goethe-lstm", "😀🎉")
    assert "😀" in notes and "'K'" in notes
    assert generate(client, "goethe-lstm", "Know😀ing ", 8) == generate(client, "goethe-lstm", "Knowing ", 8)
    assert generate(client, "tsingtao-lstm", "👋", 5) == generate(client, "tsingtao-lstm", "", 5)
    assert_still_serving(client)


def test_a_100_kB_prompt_is_read_from_its_end(client):
    unit = "Knowing is not enough; we must apply. Willing is not enough; we must do. "
    big = (unit * (100_000 // len(unit) + 1))[-100_000:]
    big = big[: big.rindex("we must ") + len("we must ")]  # ends "Willing is not enough; we must "
    assert len(big.encode()) > 99_000
    probs, notes = next_chars(client, "goethe-lstm", big)
    assert f"{service.MAX_PROMPT_READ:,}" in notes
    assert next(iter(probs)) == "d"
    assert generate(client, "goethe-lstm", big, 2) == "do"
    assert_still_serving(client)


@pytest.mark.parametrize(
    "field, overrides, message",
    [
        ("length", {"length": 10**9}, "length"),
        ("length", {"length": -5}, "length"),
        ("length", {"length": 2.5}, "whole number"),
        ("temperature", {"temperature": 50}, "temperature"),
        ("temperature", {"temperature": -1}, "temperature"),
        ("top_p", {"top_p": 0}, "top_p"),
        ("top_p", {"top_p": 1.5}, "top_p"),
        ("top_k", {"top_k": -3}, "top_k"),
        ("seed", {"seed": -2}, "seed"),
        ("seed", {"seed": "abc"}, "seed"),
    ],
)
def test_out_of_range_generation_settings_are_refused(client, field, overrides, message):
    request = {"length": 10, "temperature": 0.5, "top_k": 0, "top_p": 1.0, "seed": 0, **overrides}
    started = time.monotonic()
    with pytest.raises(AppError, match=message) as error:
        client.predict("goethe-lstm", "K", *request.values(), api_name="/generate")
    assert repr(overrides[field])[:8] in str(error.value)  # the message quotes what was wrong
    assert time.monotonic() - started < 10  # refused up front, not after generating 10**9 characters
    assert_still_serving(client)


@pytest.mark.parametrize(
    "checkpoint",
    [
        "goethe",
        "goethe-transformer",
        "",
        "upload-0000000000000000",  # an upload key nobody uploaded
    ],
)
def test_unknown_checkpoint_names_are_refused(client, checkpoint):
    for call in (
        lambda: next_chars(client, checkpoint, "K"),
        lambda: generate(client, checkpoint, "K", 5),
    ):
        with pytest.raises(AppError) as error:
            call()
        text = str(error.value)
        if checkpoint.startswith(serving.UPLOAD_PREFIX):
            assert "no longer in memory: upload the file again" in text
        else:
            assert repr(checkpoint) in text and "goethe-lstm" in text  # says what to use instead
    assert_still_serving(client)


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "../../../../../../etc/passwd",
        str(ROOT / "checkpoints" / "goethe-lstm.safetensors"),  # even a real checkpoint, named by path
        "checkpoints/goethe-lstm.safetensors",
        "goethe-lstm.safetensors",
        "./goethe-lstm",
    ],
)
def test_file_paths_are_not_accepted_as_checkpoints(client, path):
    """Only shipped names, upload keys and hf:// are loaded: a public page must not open server files."""
    for call in (lambda: next_chars(client, path, "K"), lambda: generate(client, path, "K", 5)):
        with pytest.raises(AppError, match="unknown checkpoint") as error:
            call()
        assert "root:" not in str(error.value)
    assert_still_serving(client)


@pytest.mark.parametrize("url", ["hf://someone/charmodels/goethe-lstm.safetensors", "hf://../../etc/passwd", "hf://x"])
def test_hub_checkpoint_offline_fails_fast_and_clearly(client, url):
    started = time.monotonic()
    with pytest.raises(AppError) as error:
        next_chars(client, url, "K")
    assert time.monotonic() - started < 5
    text = str(error.value)
    assert url in text and ("offline" in text or "hf://owner/repo/file.safetensors" in text)
    assert_still_serving(client)


# ---- many users at once ----


def test_concurrent_clients_see_no_cross_talk(server_url, client):
    """8 users, each with its own client, asking different things at the same time."""
    requests = []
    for n, checkpoint in enumerate(["anthem-rnn", "anthem-lstm", "anthem-gru", "goethe-rnn",
                                    "goethe-gru", "boat-rnn", "pets-gru", "tsingtao-lstm"]):
        corpus = CORPORA[checkpoint.split("-")[0]].text
        requests.append(
            {
                "generate": (checkpoint, corpus[: 1 + n % 3], 80, 1.3, n % 4 * 3, 0.95, 100 + n),
                "next_chars": (checkpoint, corpus[: 5 + 3 * n]),
            }
        )
    alone = [
        (client.predict(*r["generate"], api_name="/generate")[0], client.predict(*r["next_chars"], api_name="/next_chars"))
        for r in requests
    ]
    assert len({text for text, _ in alone}) == len(alone)  # the requests really differ

    start = threading.Barrier(len(requests))

    def user(request):
        own = Client(server_url, verbose=False, download_files=False)
        try:
            start.wait(timeout=60)
            results = []
            for _ in range(2):
                job = own.submit(*request["generate"], api_name="/generate")
                probs = own.predict(*request["next_chars"], api_name="/next_chars")
                results.append((job.result(timeout=120)[0], probs))
            return results
        finally:
            own.close()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        together = list(pool.map(user, requests, timeout=180))
    for expected, results in zip(alone, together):
        for text, probs in results:
            assert text == expected[0]
            assert tuple(probs) == tuple(expected[1])


# ---- uploads (the page's upload handler is private: its service, register_upload) ----


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """A checkpoint of a user's own text, trained by train.py --text-file."""
    folder = tmp_path_factory.mktemp("own")
    text_file = folder / "poem.txt"
    text_file.write_text("abc abd abe", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "train.py", "--text-file", str(text_file), "--name", "poem", "--cell", "gru",
         "--hidden-size", "24", "--jobs", "1", "--out", str(folder / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = (folder / "out").glob("*.safetensors")
    return path


def test_an_uploaded_own_checkpoint_is_served(client, trained_checkpoint):
    key = serving.register_upload(trained_checkpoint)
    assert key.startswith(serving.UPLOAD_PREFIX)
    assert serving.register_upload(trained_checkpoint) == key  # same file, same key
    # the key works through the public API too (same process, shared model cache)
    assert generate(client, key, "a", 10) == "bc abd abe"[:10]
    probs, notes = next_chars(client, key, "")
    assert "'a'" in notes and next(iter(probs)) == "b"
    assert serving.get_model(key).info["corpus"]["text"] == "abc abd abe"


def test_an_uploaded_copy_of_a_shipped_checkpoint_behaves_like_it(client, tmp_path):
    copy = tmp_path / "mine.safetensors"
    shutil.copyfile(ROOT / "checkpoints" / "goethe-gru.safetensors", copy)
    key = serving.register_upload(copy)
    assert next_chars(client, key, GOETHE_LONG) == next_chars(client, "goethe-gru", GOETHE_LONG)
    assert generate(client, key, "K", 70) == CORPORA["goethe"].text[1:]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty"),
        (b"hello, I am a text file\n", "safetensors"),
        (b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00}\x94.", "pickle"),
        (b"PK\x03\x04" + b"\x00" * 64, "pickle"),
    ],
)
def test_a_non_checkpoint_upload_is_refused(tmp_path, content, problem):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    with pytest.raises(CheckpointError, match=problem):
        serving.register_upload(bad)


def test_a_truncated_checkpoint_upload_is_refused(tmp_path):
    data = (ROOT / "checkpoints" / "boat-rnn.safetensors").read_bytes()
    bad = tmp_path / "cut.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated|damaged"):
        serving.register_upload(bad)


# ---- uploads are bounded (issue 9, defect 10) ----


def test_the_server_refuses_an_upload_larger_than_any_checkpoint(server_url, tmp_path):
    """launch(max_file_size=...): Gradio itself turns the file away before anything reads it."""
    import httpx

    assert app.LAUNCH_OPTIONS["max_file_size"] == serving.MAX_UPLOAD_BYTES
    big = tmp_path / "big.safetensors"
    with big.open("wb") as out:
        out.truncate(serving.MAX_UPLOAD_BYTES + 1)
    small = tmp_path / "small.safetensors"
    shutil.copyfile(ROOT / "checkpoints" / "boat-rnn.safetensors", small)
    with httpx.Client(timeout=60) as http:
        with big.open("rb") as data:
            refused = http.post(f"{server_url}gradio_api/upload", files={"files": (big.name, data)})
        with small.open("rb") as data:
            accepted = http.post(f"{server_url}gradio_api/upload", files={"files": (small.name, data)})
    assert refused.status_code == 413, refused.text
    assert accepted.status_code == 200 and accepted.json()[0].endswith("small.safetensors")


def test_register_upload_refuses_a_file_over_the_bound_before_reading_it(tmp_path):
    big = tmp_path / "big.safetensors"
    with big.open("wb") as out:
        out.truncate(serving.MAX_UPLOAD_BYTES + 1)
    started = time.monotonic()
    with pytest.raises(CheckpointError) as error:
        serving.register_upload(big)
    assert time.monotonic() - started < 1
    assert error.value.code == "upload_too_large"
    assert error.value.params == {"size": serving.MAX_UPLOAD_BYTES + 1, "limit": serving.MAX_UPLOAD_BYTES}
    said = app.error_text("ko", error.value)  # what the page shows: no path of the server
    assert str(tmp_path) not in said and "33,554,433바이트" in said


def test_uploads_kept_in_memory_are_bounded_in_number_and_bytes(tmp_path, monkeypatch):
    files = []
    for name in ("boat-rnn", "boat-gru", "boat-lstm"):
        files.append(tmp_path / f"{name}.safetensors")
        shutil.copyfile(ROOT / "checkpoints" / f"{name}.safetensors", files[-1])
    for file in files:
        serving.forget(serving.register_upload(file))  # start without them
    monkeypatch.setattr(serving, "MAX_UPLOADS", 2)
    keys = [serving.register_upload(file) for file in files]
    with pytest.raises(CharmodelsError) as gone:
        serving.get_model(keys[0])
    assert gone.value.code == "upload_gone"  # the oldest went
    assert serving.get_model(keys[2]).config.cell == "lstm" and serving.get_model(keys[1]).config.cell == "gru"

    for key in keys:
        serving.forget(key)
    monkeypatch.setattr(serving, "MAX_UPLOADS", 32)
    monkeypatch.setattr(serving, "MAX_UPLOADED_BYTES", files[1].stat().st_size + files[2].stat().st_size)
    keys = [serving.register_upload(file) for file in files]  # the three together are over the bytes allowed
    assert serving.get_model(keys[1]).config.cell == "gru" and serving.get_model(keys[2]).config.cell == "lstm"
    with pytest.raises(CharmodelsError) as gone:
        serving.get_model(keys[0])
    assert gone.value.code == "upload_gone"
    for key in keys:
        serving.forget(key)


def test_the_server_does_not_summarise_every_event_for_gradios_monitoring(client):
    """demo/gradio_settings.py: Gradio's queue rebuilt a pandas summary of its last 10,000 events after
    every event, and tried to import the missing matplotlib around each; under a class's load that was
    about a quarter of the server's CPU (bench/classroom)."""
    queue = app.demo._queue  # the queue the server runs
    assert queue.ANAYLTICS_CACHE_FREQUENCY >= 1000 and queue.ANALYTICS_MAX_EVENTS <= 1000  # (Gradio's spelling)
    with pytest.raises(ImportError):
        import matplotlib  # noqa: F401  (not among the app's requirements)
    assert sys.modules["matplotlib"] is None  # known missing once: no failed search of every path per event
