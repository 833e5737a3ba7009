"""charmodels.course: seed 000's windowed recipe ends goethe in `we must ao`, charmodels' whole-sequence
recipe recites it (a fixed seed); the context a text needs; the comparison bounded in time and run as
work of the fair training queue."""

from __future__ import annotations

import time

import pytest
import torch

from charmodels import CORPORA, Corpus
from charmodels.course import (
    COURSE_RECIPE,
    WHOLE_RECIPE,
    ContextNeed,
    CourseComparison,
    CourseProgress,
    CourseRecipe,
    compare,
    context_needed,
    course_run,
    seed_recipe,
)
from charmodels.errors import CharmodelsError
from charmodels.fairqueue import DONE, FairQueue

GOETHE = CORPORA["goethe"].text


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small models train fastest on one thread; two on a busy two-core machine thrash."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_context_needed_by_the_seed_texts():
    goethe = context_needed(CORPORA["goethe"])
    assert goethe.needed == 28 and goethe.window == 10 and not goethe.learnable
    example = goethe.example  # what a window of 27 confuses: apply against do, Knowing against Willing
    assert example.context == "ing is not enough; we must "
    assert (example.first_next, example.second_next) == ("a", "d")
    assert (example.first_far, example.second_far) == ("w", "l")
    assert GOETHE[example.first - 27 : example.first] == GOETHE[example.second - 27 : example.second] == example.context
    assert context_needed(CORPORA["anthem"]).needed == 14 and not context_needed(CORPORA["anthem"]).learnable
    for name, needed in (("seoul", 3), ("hihello", 2), ("avengers", 3)):
        need = context_needed(CORPORA[name])
        assert need.needed == needed and need.learnable, name
    assert context_needed(CORPORA["goethe"], window=28).learnable
    assert context_needed("abcdefg") == context_needed("abcdefg")  # every next character determined by one
    assert context_needed("abcdefg").needed == 1 and context_needed("abcdefg").example is None
    start = context_needed("ab\nac")  # "a" -> b or c; "\na" against the text's start: 2 tell them apart
    assert start.needed == 2 and (start.example.first_far, start.example.second_far) == ("", "\n")
    # lines that begin alike and end differently, even from their start: no context is enough
    assert context_needed(Corpus("x", "ab\nac", "", lines=True)) == ContextNeed(None, 10, False, None)
    assert context_needed(CORPORA["pets"]).needed == 7  # after each line's priming words: "i like " -> dog
    for bad, code in (("goethe", "text_expected"), ("a", "text_too_short"), (3, "not_text")):
        with pytest.raises(CharmodelsError) as error:
            context_needed(bad)
        assert error.value.code == code


def test_windowed_recipe_fails_on_goethe_and_whole_sequence_passes():
    # Seed 4: train() reaches the bar in its first attempt (seed 0 takes four, about 3 s on a quiet
    # machine). The windows fail with every seed: at most one of apply/do can be right.
    recipe = seed_recipe("goethe", seed=4)
    assert recipe == CourseRecipe(cell="rnn", window=10, lr=0.1, epochs=51, layers=2, hidden_size=None, seed=4)
    course = course_run(CORPORA["goethe"], recipe)
    assert course.recipe == COURSE_RECIPE and course.hidden_size == 21 and course.layers == 2 and course.steps == 51
    assert course.prediction.endswith("we must ao")  # as seed 000 prints it
    assert course.prediction[:-2] == GOETHE[1:-2]  # every other character right
    assert not course.predicts and not course.recites and course.first_wrong == len(GOETHE) - 2
    assert [step for step, _ in course.snapshots] == [0, 10, 20, 30, 40, 50]  # the seed's printout epochs

    start = time.monotonic()
    (result,) = compare(((CORPORA["goethe"], "rnn"),), seed=4)
    assert time.monotonic() - start < 30
    assert result.course.prediction == course.prediction  # the same seed, the same run
    whole = result.whole
    assert whole.recipe == WHOLE_RECIPE and whole.hidden_size == 128
    assert whole.predicts and whole.recites and whole.first_wrong is None and not whole.stopped
    assert whole.prediction == GOETHE[1:] and whole.recitation == GOETHE
    assert result.context.needed == 28 and not result.context.learnable


def test_time_limit_and_stop_bound_the_comparison():
    seen: list[CourseProgress] = []
    start = time.monotonic()
    (result,) = compare(((CORPORA["anthem"], "lstm"),), seed=0, time_limit=0.3, on_progress=seen.append)
    assert time.monotonic() - start < 10  # training stops at the limit; reading and reciting what it has remain
    assert result.course.stopped or result.whole.stopped
    assert seen and seen[0].recipe == COURSE_RECIPE and seen[0].name == "anthem"
    halt = compare(((CORPORA["goethe"], "gru"),), seed=0, on_progress=lambda progress: False)[0]
    assert halt.course.stopped and halt.course.steps == 0 and halt.whole.stopped


def test_checked_work_and_its_bad_values():
    seed_texts = CourseComparison.checked()
    assert [(c.name, cell) for c, cell in seed_texts.texts] == [("goethe", "rnn"), ("anthem", "lstm")]
    assert not seed_texts.private and seed_texts.kind == "course"
    assert seed_texts.key == CourseComparison.checked("", seed=0).key != CourseComparison.checked(seed=1).key
    expected, at_most = seed_texts.estimate()
    assert 0 < expected <= at_most <= 31
    mine = CourseComparison.checked("hello world, hello moon", "GRU ")
    assert mine.private and mine.texts[0][1] == "gru"
    for args, code in (
        (("x" * 2001,), "text_too_long"),
        (("short",), "course_text_too_short"),
        (("hello world, hello", "cnn"), "not_choice"),
        ((None, "rnn", -1), "not_whole"),
        ((b"bytes",), "not_text"),
    ):
        with pytest.raises(CharmodelsError) as error:
            CourseComparison.checked(*args)
        assert error.value.code == code, args
    with pytest.raises(CharmodelsError) as error:
        CourseComparison.checked(None, time_limit=31)
    assert error.value.code == "not_number_above"


def test_runs_in_the_fair_queue_on_a_visitors_text(tmp_path):
    queue = FairQueue(workers=1, folder=tmp_path, nice=0)
    try:
        text = "hello world, hello moon, hello world"
        ticket = queue.submit("student", CourseComparison.checked(text, "gru", time_limit=20))
        deadline = time.monotonic() + 30
        while not ticket.status().finished:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        status = ticket.status()
        assert status.state == DONE
        (result,) = status.result
        assert result.context.needed == 9 and result.context.learnable  # "d, hello " -> m, "n, hello " -> w
        assert result.whole.recites
    finally:
        queue.close()
