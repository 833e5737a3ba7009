"""Sampling: greedy is argmax, seeds reproduce, top-k/top-p stay inside their sets, one
meaning of "off" and "random" (check_sampling), every bad argument refused at call time with
a CharmodelsError, a checkpoint name accepted as the model, and help() that teaches."""

from __future__ import annotations

import dataclasses
import itertools
import math
import pydoc

import numpy as np
import pytest

import charmodels as cm
from charmodels.errors import CharmodelsError
from charmodels.sampling import (
    MAX_LENGTH,
    MAX_PROMPT,
    MAX_SEED,
    MAX_TEMPERATURE,
    MAX_TOP_K,
    SamplingRequest,
    check_sampling,
)


@pytest.fixture(scope="module")
def goethe(shipped):
    return shipped("goethe-lstm")


@pytest.fixture(scope="module")
def flat(make_model):
    """An untrained model: its distributions are spread out, so sampling really varies."""
    return make_model("gru", hidden_size=16, chars="abcdefghij", seed=5)


def text_of(steps) -> str:
    return "".join(step.char for step in steps)


# ---------------------------------------------------------------- next_char_probs


def test_next_char_probs_is_a_sorted_distribution_over_the_vocab(goethe):
    pairs = cm.next_char_probs(goethe, "Knowing is not enough; we must a")
    chars = [c for c, _ in pairs]
    probs = [p for _, p in pairs]
    assert sorted(chars) == goethe.vocab.chars
    assert probs == sorted(probs, reverse=True)
    assert math.isclose(sum(probs), 1.0, abs_tol=1e-9)
    assert pairs[0][0] == "p"  # "apply" after the first "we must a"
    assert cm.next_char_probs(goethe, "Knowing is not enough; we must apply. Willing is not enough; we must ")[0][0] == "d"


# ---------------------------------------------------------------- greedy


@pytest.mark.parametrize("which", ["goethe", "flat"])
def test_greedy_is_argmax_of_next_char_probs_at_every_step(request, which):
    model = request.getfixturevalue(which)
    prompt = "K" if which == "goethe" else "abc"
    steps = list(cm.generate(model, prompt, 40))  # temperature 0 by default
    assert len(steps) == 40
    text = text_of(steps)
    for i, step in enumerate(steps):
        # re-read prompt + everything written so far from a fresh state
        best_char, best_prob = cm.next_char_probs(model, prompt + text[:i])[0]
        assert step.char == best_char, f"step {i}"
        assert step.dist[step.index] == 1.0  # greedy: all of the drawn-from mass on the argmax
        assert math.isclose(step.prob, best_prob, rel_tol=1e-6)  # .prob is what the model gave it


def test_carried_state_matches_rereading_the_prefix(flat):
    prompt = "hij"
    steps = list(cm.generate(flat, prompt, 25, temperature=1.0, seed=11))
    text = text_of(steps)
    for i, step in enumerate(steps):
        reread = dict(cm.next_char_probs(flat, prompt + text[:i]))
        carried = dict(zip(step.chars, step.model_dist))
        for char in flat.vocab.chars:
            assert math.isclose(carried[char], reread[char], abs_tol=1e-6)


@pytest.mark.parametrize("temperature", [1e-300, 1e-310, 5e-324])
def test_tiny_positive_temperature_acts_greedy_instead_of_nan(goethe, temperature):
    # regression: log p / T overflowed to -inf everywhere and -inf - -inf gave NaN probabilities
    greedy = text_of(cm.generate(goethe, "K", 30))
    steps = list(cm.generate(goethe, "K", 30, temperature=temperature, seed=0))
    assert text_of(steps) == greedy
    assert all(np.isfinite(step.dist).all() for step in steps)


def test_length_zero_writes_nothing(goethe):
    assert list(cm.generate(goethe, "K", 0)) == []


# ---------------------------------------------------------------- seeds


def test_seeded_sampling_is_reproducible_and_seeds_differ(goethe):
    def sample(seed):
        return text_of(cm.generate(goethe, "K", 60, temperature=1.5, seed=seed))

    first = sample(7)
    assert sample(7) == first
    assert len({first, sample(1), sample(2)}) == 3
    # it really samples: at 1.5 it does not recite the greedy text
    assert first != text_of(cm.generate(goethe, "K", 60))


def test_unseeded_sampling_runs(goethe):
    steps = list(cm.generate(goethe, "K", 20, temperature=1.0))
    assert len(steps) == 20
    assert all(c in goethe.vocab for c in text_of(steps))


# ---------------------------------------------------------------- top-k / top-p


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_never_leaves_the_top_k(flat, k):
    prompt = "a"
    off_argmax = 0
    for seed in range(4):
        steps = list(cm.generate(flat, prompt, 30, temperature=1.0, top_k=k, seed=seed))
        text = text_of(steps)
        for i, step in enumerate(steps):
            model = dict(cm.next_char_probs(flat, prompt + text[:i]))
            kth = sorted(model.values(), reverse=True)[k - 1]
            assert model[step.char] >= kth - 1e-9, f"{step.char!r} is outside the top {k}"
            assert np.count_nonzero(step.dist) <= k
            off_argmax += model[step.char] < max(model.values())
    if k > 1:
        assert off_argmax > 0  # the test samples, not just greedy


@pytest.mark.parametrize("top_p", [0.3, 0.6, 0.9])
def test_top_p_never_leaves_the_nucleus(flat, top_p):
    prompt = "b"
    off_argmax = 0
    for seed in range(4):
        steps = list(cm.generate(flat, prompt, 30, temperature=1.0, top_p=top_p, seed=seed))
        text = text_of(steps)
        for i, step in enumerate(steps):
            model = dict(cm.next_char_probs(flat, prompt + text[:i]))
            p = model[step.char]
            above = sum(q for q in model.values() if q > p)
            # in the nucleus: the mass of all strictly more likely characters has not reached top_p yet
            assert above < top_p + 1e-9, f"{step.char!r} is outside the {top_p} nucleus"
            # and the distribution drawn from is exactly the nucleus
            ranked = sorted(model.values(), reverse=True)
            size = next(i + 1 for i, c in enumerate(itertools.accumulate(ranked)) if c >= top_p - 1e-12)
            assert np.count_nonzero(step.dist) == size
            off_argmax += p < ranked[0]
    assert off_argmax > 0


def test_top_k_and_top_p_together_respect_both(flat):
    prompt = "c"
    steps = list(cm.generate(flat, prompt, 40, temperature=1.0, top_k=4, top_p=0.5, seed=3))
    text = text_of(steps)
    for i, step in enumerate(steps):
        model = dict(cm.next_char_probs(flat, prompt + text[:i]))
        ranked = sorted(model.values(), reverse=True)
        assert model[step.char] >= ranked[3] - 1e-9
        assert sum(q for q in model.values() if q > model[step.char]) < 0.5 + 1e-9


# ---------------------------------------------------------------- Step


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"temperature": 0.7, "seed": 1},
        {"temperature": 2.0, "seed": 2},
        {"temperature": 1.0, "top_k": 3, "seed": 3},
        {"temperature": 1.0, "top_p": 0.5, "seed": 4},
        {"temperature": MAX_TEMPERATURE, "seed": 5},
    ],
)
def test_step_dist_sums_to_one_and_prob_is_the_models(flat, kwargs):
    steps = list(cm.generate(flat, "abc", 25, **kwargs))
    assert len(steps) == 25
    for step in steps:
        assert step.dist.shape == step.model_dist.shape == (len(flat.vocab),)
        assert math.isclose(float(step.dist.sum()), 1.0, abs_tol=1e-9)
        assert math.isclose(float(step.model_dist.sum()), 1.0, abs_tol=1e-9)
        assert (step.dist >= 0).all()
        # .prob is the probability the model gave the character; .dist is what it was drawn from
        assert step.prob == step.model_dist[step.index]
        assert step.dist[step.index] > 0
        assert step.chars[step.index] == step.char
        assert step.chars == tuple(flat.vocab.chars)
        assert step.top(3)[0][1] == step.dist.max()


def test_temperature_reshapes_the_distribution(flat):
    cold = next(iter(cm.generate(flat, "a", 1, temperature=0.5, seed=0)))
    hot = next(iter(cm.generate(flat, "a", 1, temperature=3.0, seed=0)))
    one = next(iter(cm.generate(flat, "a", 1, temperature=1.0, seed=0)))
    assert np.allclose(one.dist, one.model_dist, atol=1e-12)
    assert cold.dist.max() > one.dist.max() > hot.dist.max()


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"length": -1}, "length"),
        ({"length": MAX_LENGTH + 1}, "length"),
        ({"length": 10**12}, "length"),
        ({"length": 2.5}, "length"),
        ({"length": "5"}, "length"),
        ({"length": True}, "length"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"temperature": 1e6}, "temperature"),
        ({"temperature": MAX_TEMPERATURE * 1.01}, "temperature"),
        ({"temperature": "1"}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_p": -0.5}, "top_p"),
        ({"top_p": float("nan")}, "top_p"),
        ({"top_p": "1"}, "top_p"),
        ({"top_k": -1}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_k": True}, "top_k"),
        ({"top_k": MAX_TOP_K + 1}, "top_k"),
        ({"seed": -2}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"seed": MAX_SEED + 1}, "seed"),
        ({"seed": True}, "seed"),
        ({"prompt": ""}, "empty"),
        ({"prompt": None}, "prompt"),
        ({"prompt": "a" * (MAX_PROMPT + 1)}, "limit"),
    ],
)
def test_bad_arguments_raise_charmodels_error_at_call_time(goethe, kwargs, message):
    call = {"prompt": "K", "length": 5, "temperature": 1.0, "top_k": None, "top_p": None, "seed": 0}
    call.update(kwargs)
    with pytest.raises(CharmodelsError, match=message) as info:
        # no iteration: generate itself must raise, before the first character
        cm.generate(goethe, call.pop("prompt"), **call)
    assert info.value.code in ("not_whole", "not_number", "not_number_above", "not_text", "empty_prompt", "prompt_too_long")
    assert isinstance(info.value, ValueError)  # still caught the usual way


def test_unknown_prompt_characters_are_named_at_call_time(goethe):
    with pytest.raises(cm.UnknownCharacterError) as info:
        cm.generate(goethe, "Knowing \u00e9t\u00e9 ☃", 5)
    assert info.value.chars == ["\u00e9", "☃"]
    assert "'é'" in str(info.value) and "'☃'" in str(info.value)
    with pytest.raises(cm.UnknownCharacterError):
        cm.next_char_probs(goethe, "☃")


def test_next_char_probs_refuses_an_empty_prompt(goethe):
    with pytest.raises(ValueError, match="empty"):
        cm.next_char_probs(goethe, "")


def test_the_limits_themselves_are_allowed(goethe):
    steps = cm.generate(goethe, "K", MAX_LENGTH, temperature=MAX_TEMPERATURE, top_k=10**6, top_p=1.0, seed=0)
    assert len(list(itertools.islice(steps, 3))) == 3


# ---------------------------------------------------------------- huge prompt


def test_huge_prompt_is_read_once_and_works(make_model):
    model = make_model("gru", hidden_size=8, chars="abcdefgh", seed=1)
    prompt = "a" * 100_000
    probs = cm.next_char_probs(model, prompt)
    assert math.isclose(sum(p for _, p in probs), 1.0, abs_tol=1e-9)
    steps = list(cm.generate(model, prompt, 5))
    assert len(steps) == 5
    assert steps[0].char == probs[0][0]


# ---------------------------------------------------------------- one contract: off and random


def test_check_sampling_gives_off_and_random_one_meaning():
    # regression: the library refused top_k=0 and seed=-1, which the app's API sends for "off" and "random"
    assert check_sampling(5, 1.0, 0, 1, -1) == SamplingRequest(5, 1.0, None, None, None)
    assert check_sampling(5, 1.0, None, None, None) == SamplingRequest(5, 1.0, None, None, None)
    assert check_sampling(5.0, 1, 3.0, 0.5, 7.0) == SamplingRequest(5, 1.0, 3, 0.5, 7)  # JSON and sliders send floats
    request = check_sampling(5, 0.0, 3, 0.5, 7)
    assert request.greedy and not check_sampling(5, 0.5).greedy
    assert isinstance(request.length, int) and isinstance(request.top_k, int) and isinstance(request.seed, int)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.length = 6


def test_check_sampling_takes_narrower_bounds():
    assert check_sampling(2000, 2.0, max_length=2000, max_temperature=2.0).length == 2000
    with pytest.raises(CharmodelsError, match="from 0 to 2,000") as info:
        check_sampling(2001, 1.0, max_length=2000, max_temperature=2.0)
    assert info.value.code == "not_whole" and info.value.params["name"] == "length"
    with pytest.raises(CharmodelsError, match="temperature must be a number from 0 to 2") as info:
        check_sampling(10, 2.5, max_length=2000, max_temperature=2.0)
    assert info.value.params["name"] == "temperature"


@pytest.mark.parametrize("name,off,on", [("top_k", 0, None), ("top_p", 1, None), ("top_p", 1.0, None)])
def test_off_values_sample_exactly_as_none(flat, name, off, on):
    def text(value):
        return text_of(cm.generate(flat, "a", 40, temperature=1.5, seed=3, **{name: value}))

    assert text(off) == text(on)


def test_seed_minus_one_is_random_like_none(flat):
    texts = {text_of(cm.generate(flat, "a", 40, temperature=2.0, seed=-1)) for _ in range(3)}
    texts |= {text_of(cm.generate(flat, "a", 40, temperature=2.0, seed=None)) for _ in range(3)}
    assert len(texts) > 1  # fresh seeds: 40 characters from a flat model do not repeat by chance


def test_greedy_ignores_top_k_top_p_and_seed(goethe):
    greedy = text_of(cm.generate(goethe, "K", 30))
    assert text_of(cm.generate(goethe, "K", 30, 0.0, top_k=2, top_p=0.3, seed=5)) == greedy
    assert text_of(cm.generate(goethe, "K", 30, 0.0, seed=-1)) == greedy


# ---------------------------------------------------------------- a checkpoint name as the model


def test_a_checkpoint_name_is_accepted_as_the_model(goethe):
    # regression: generate("goethe-lstm", "K", 5) raised AttributeError: 'str' object has no attribute 'vocab'
    assert text_of(cm.generate("goethe-lstm", "K", 20)) == text_of(cm.generate(goethe, "K", 20)) == "nowing is not enough"
    assert cm.next_char_probs("goethe-lstm", "K") == cm.next_char_probs(goethe, "K")


@pytest.mark.parametrize("not_a_model", [None, 3, ["goethe-lstm"], object()])
def test_anything_else_as_the_model_is_a_clear_error(not_a_model):
    for call in (lambda: cm.generate(not_a_model, "K", 5), lambda: cm.next_char_probs(not_a_model, "K")):
        with pytest.raises(CharmodelsError, match="expected a CharModel") as info:
            call()
        assert info.value.code == "model_expected"


def test_an_unknown_checkpoint_name_says_so():
    with pytest.raises(cm.CheckpointError, match="no such checkpoint"):
        cm.generate("goethe-transformer", "K", 5)


def test_arguments_are_checked_before_a_checkpoint_is_loaded():
    with pytest.raises(CharmodelsError, match="length"):
        cm.generate("no-such-checkpoint", "K", -1)


# ---------------------------------------------------------------- help() teaches


def test_help_of_generate_teaches_the_contract():
    text = " ".join(pydoc.render_doc(cm.generate, renderer=pydoc.plaintext).split())
    for phrase in (
        "0 (the default) is greedy",
        "The prompt is read, not repeated",
        "0 or None = off",  # top_k
        "1 or None = off",  # top_p
        "-1 or None = random",  # seed
        "When greedy, top_k, top_p and seed change nothing",
        "MAX_LENGTH (10,000)",
        "MAX_TEMPERATURE (10)",
        "Each Step holds",
        "goethe-lstm",
    ):
        assert phrase in text, phrase
    assert f"MAX_LENGTH ({MAX_LENGTH:,})" in text and f"MAX_TEMPERATURE ({MAX_TEMPERATURE:g})" in text


def test_help_of_step_shows_every_field():
    text = pydoc.render_doc(cm.Step, renderer=pydoc.plaintext)
    for field in dataclasses.fields(cm.Step):
        assert f"{field.name}:" in text, field.name
    assert "before temperature" in text and "Sums to 1" in text


def test_the_docstring_example_runs():
    assert "K" + "".join(step.char for step in cm.generate("goethe-lstm", "K", 20)) == "Knowing is not enough"
