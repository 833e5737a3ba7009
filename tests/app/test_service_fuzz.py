"""Property-based fuzzing (hypothesis) of demo/service.py, what the app's endpoints call.

Every call answers correctly (a sorted top of the model's characters; the asked number of
steps) or raises a CharmodelsError (a ValueError) with a code; never another exception
type, never a hang. Real shipped checkpoints; no mocks. (Moved here from tests/test_fuzz.py
when the service moved out of the library.)
"""

from __future__ import annotations

import json
import math
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from charmodels import serving
from charmodels.checkpoint import shipped_names
from charmodels.errors import CharmodelsError
from demo import i18n, service

CALL_SECONDS = 30
SPECIAL_CHARS = ["\x00", "\x01", "\t", "\r", "\n", "\u0301", "\u200d", "\ufeff", "😀", "한", "\u05d0", "’", "\uffff"]
SPECIAL_TEXTS = ["", " ", "👨\u200d👩\u200d👧", "e\u0301", "K\x00", "Kn\u0301owing", "\r\n", "a" * 3000, "한국 사람"]
HUGE = [10**400, -(10**400), 2**63, 2**64, 2**1000]
anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(),
    st.sampled_from([0, -0.0, 1, -1, 0.5, 5e-324, 1e308, math.inf, -math.inf, math.nan, *HUGE, True, False]),
    st.sampled_from(["1", "0.5", "nan", "", "abc", 1 + 2j, np.float64(0.5), np.int64(3), np.float32("nan"), [1], (2,), b"1"]),
)


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class Hang(Exception):
    """A call ran past its time bound."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Turn a hang into a failure: SIGALRM raises Hang in the test's (main) thread."""

    def expire(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def assert_clear(error: BaseException) -> None:
    """A refusal the page can say: a code of the catalogue, worded in both languages."""
    assert isinstance(error, CharmodelsError), f"{type(error).__name__}: {error}"
    for lang in i18n.LANGUAGES:
        assert i18n.error_text(lang, error).strip()
    event(f"refused: {error.code}")


def mostly(valid: st.SearchStrategy, wild: st.SearchStrategy, tenths: int = 8) -> st.SearchStrategy:
    return st.integers(0, 9).flatmap(lambda n: valid if n < tenths else wild)


checkpoint_names = mostly(st.sampled_from(shipped_names()), st.one_of(
    st.sampled_from(["", " goethe-lstm ", "goethe", "GOETHE-LSTM", "goethe-lstm\x00", "../../etc/passwd", "/etc/passwd",
                     "checkpoints/goethe-lstm.safetensors", "upload-0000000000000000", ".", "😀-lstm"]),
    st.text(max_size=20).filter(lambda s: not s.strip().startswith("hf://")),  # the Hub: test_api.py
    st.none(), st.integers(), st.floats(),
), tenths=7)
any_prompt = mostly(
    st.one_of(st.text(max_size=60), st.text(alphabet=st.sampled_from(list("Knowing is not enough; we must") + SPECIAL_CHARS)),
              st.sampled_from(SPECIAL_TEXTS), st.none()),
    st.one_of(st.integers(), st.floats(), st.lists(st.text(max_size=2), max_size=3)),
)


@fuzz(200)
@given(checkpoint=checkpoint_names, prompt=any_prompt)
def test_next_chars_answers_or_refuses_clearly(checkpoint, prompt):
    try:
        with time_limit(CALL_SECONDS):
            pairs, notes = service.next_chars(checkpoint, prompt)
    except CharmodelsError as error:
        assert_clear(error)
        return
    event("answered")
    assert isinstance(checkpoint, str) and checkpoint.strip() in shipped_names()
    model = serving.get_model(checkpoint)
    assert 1 <= len(pairs) <= service.TOP
    assert all(char in model.vocab for char, _ in pairs)
    probs = [p for _, p in pairs]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    assert all(isinstance(note, service.Note) for note in notes)
    for lang in i18n.LANGUAGES:  # every note can be said
        assert all(i18n.say(lang, note.key, **{k: str(v) for k, v in note.params.items()}) for note in notes)


@fuzz(200)
@given(
    checkpoint=checkpoint_names,
    prompt=any_prompt,
    length=mostly(st.integers(1, 80), st.one_of(st.integers(), anything)),
    temperature=mostly(st.floats(0, service.APP_MAX_TEMPERATURE), st.one_of(st.floats(), anything)),
    top_k=mostly(st.one_of(st.just(0), st.integers(1, 12)), st.one_of(st.integers(), anything)),
    top_p=mostly(st.floats(0, 1, exclude_min=True), st.one_of(st.floats(), anything)),
    seed=mostly(st.one_of(st.just(-1), st.integers(0, 2**63 - 1)), st.one_of(st.integers(), anything)),
)
@example(checkpoint="goethe-lstm", prompt="K", length=service.APP_MAX_LENGTH, temperature=2, top_k=10**400, top_p=1, seed=2**63 - 1)
@example(checkpoint="goethe-lstm", prompt="😀", length="7", temperature="0.5", top_k="0", top_p="1", seed="-1")
def test_check_request_and_stream(checkpoint, prompt, length, temperature, top_k, top_p, seed):
    try:
        request = service.check_request(length, temperature, top_k, top_p, seed)
    except CharmodelsError as error:
        assert_clear(error)
        return
    # what check_request lets through is in range, and generate() accepts all of it
    assert isinstance(request.length, int) and 0 <= request.length <= service.APP_MAX_LENGTH
    assert isinstance(request.temperature, float) and 0 <= request.temperature <= service.APP_MAX_TEMPERATURE
    assert request.top_k is None or (isinstance(request.top_k, int) and request.top_k >= 1)
    assert request.top_p is None or (isinstance(request.top_p, float) and 0 < request.top_p < 1)
    assert request.seed is None or (isinstance(request.seed, int) and 0 <= request.seed < 2**63)
    try:
        text, _notes, steps = service.stream(checkpoint, prompt, request)
    except CharmodelsError as error:  # the checkpoint or prompt; never the checked request
        assert_clear(error)
        assert not (isinstance(checkpoint, str) and checkpoint.strip() in shipped_names() and (prompt is None or isinstance(prompt, str)))
        return
    model = serving.get_model(checkpoint)
    assert text and not model.vocab.unknown(text) and len(text) <= service.MAX_PROMPT_READ
    with time_limit(CALL_SECONDS):
        out = list(steps)
    event("generated")
    assert len(out) == request.length and all(step.char in model.vocab for step in out)
    if request.temperature == 0:
        assert all(step.dist[step.index] == 1 for step in out)
    if request.top_k is not None:
        assert all(np.count_nonzero(step.dist) <= request.top_k for step in out)
    assert all(json.dumps(service.step_record(step)) for step in out[:3])  # what the endpoint streams is JSON
