"""The course's recipe against ours: why seed 000's models end in ``we must ao``.

Seed 000 trains on sliding windows of 10 characters: every window ``text[i : i + 10]`` is
read from a fresh (zero) state and trained to predict ``text[i + 1 : i + 11]``, all windows
in one batch, one Adam step (learning rate 0.1) per epoch, 51 epochs for the Goethe RNN and
101 (its printout runs to epoch 100) for the anthem LSTM, with a two-layer cell whose
hidden size is the vocabulary's size and a linear layer on top. `CourseRecipe` is that
recipe, re-implemented on the one training loop (`charmodels.training.fit`), and
`course_run` reports what the seed prints: the prediction string (the first window's
argmax, then the last character of each later window's), plus a greedy recitation that
sees, like the model did, at most the last 10 characters.

charmodels' recipe (`charmodels.training.train`) reads the whole text as one sequence
(full backpropagation through time) until the text is recited (`whole_run`).

Why the windows fail: a window of 10 cannot see what the next character depends on. In
goethe, ``we must a|pply`` and ``we must d|o`` share their last 27 characters (``ing is not
enough; we must ``); only ``Knowing`` against ``Willing``, 28 characters back, tells them
apart. A model that sees 10 characters is given the same input twice with two different
answers, and can be right on at most one. `context_needed` measures this for any text: the
shortest window that determines every next character, and a pair of places that a shorter
one confuses. A window shorter than that can never learn the text (`ContextNeed.learnable`);
one at least as long is not stopped by the text, though it still has to be trained.

`CourseComparison` is the whole comparison as work for the app's fair training queue
(charmodels.fairqueue): goethe (RNN) and anthem (LSTM), as seed 000 trains them, or a
visitor's own text, each under both recipes, within `COURSE_TIME_LIMIT` seconds in all.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch

from . import checks
from .corpora import CORPORA, Corpus, as_corpus, corpus_from_text
from .data import corpus_vocab, encode_corpus
from .errors import CharmodelsError
from .metrics import teacher_forced
from .model import CELLS, CharModel, ModelConfig
from .sampling import generate
from .training import Loop, Progress, Scored, TrainConfig, Window, fit, train

SEED_WINDOW = 10  # seed 000's sequence_length
# The texts seed 000 trains and the cell it trains each with.
SEED_TEXTS = (("goethe", "rnn"), ("anthem", "lstm"))
WHOLE_HIDDEN = 128  # charmodels' standard models
WHOLE_CONFIG = TrainConfig()  # train()'s own recipe (its seed is set per comparison)
COURSE_TIME_LIMIT = 30.0  # seconds the whole comparison may take, at most
COURSE_MAX_TEXT = 2_000  # characters of a visitor's text: both recipes train on it within the limit
COURSE_RECIPE, WHOLE_RECIPE = "course", "whole"  # RecipeRun.recipe
SNAPSHOT_EVERY = 10  # epochs between the prediction strings kept, as the seed prints them

__all__ = [
    "COURSE_TIME_LIMIT",
    "SEED_TEXTS",
    "Ambiguity",
    "Comparison",
    "ContextNeed",
    "CourseComparison",
    "CourseProgress",
    "CourseRecipe",
    "RecipeRun",
    "compare",
    "context_needed",
    "course_run",
    "seed_recipe",
    "whole_run",
]


# ---- how much context a text needs ----------------------------------------------------------


@dataclass(frozen=True)
class Ambiguity:
    """Two places a window one shorter than needed cannot tell apart.

    `context` (the window's characters) comes before both, then `first_next` at `first` and
    `second_next` at `second` (indices of those next characters in the text read; for a corpus
    of lines, in its lines joined, each with its newline). The characters that tell them apart,
    one further back, are `first_far` and `second_far` ("" where that is the start of the text
    or line: there the start itself tells them apart).
    """

    context: str
    first: int
    first_next: str
    first_far: str
    second: int
    second_next: str
    second_far: str


@dataclass(frozen=True)
class ContextNeed:
    """How much context a text needs, and whether a window of `window` can learn it.

    Fields:
        needed: the shortest k such that the k characters before every position (all of them,
            where fewer than k come before it) determine the next character; None when no
            length does (two lines that begin alike and end differently).
        window: the window asked about (seed 000's 10 by default).
        learnable: needed <= window. False: a model that sees only `window` characters gets the
            same input with two different answers and can never learn the text. True: nothing
            in the text stops it.
        example: for needed > 1, two places that a window of needed - 1 confuses.
    """

    needed: int | None
    window: int
    learnable: bool
    example: Ambiguity | None


def _contexts(sequences: list[str], primes: list[int], k: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The first two places (sequence, index of the next character) whose k-contexts agree but
    whose next characters differ, or None when every k-context determines its next character.
    The first `primes[i]` characters of sequence i are given, not predicted."""
    seen: dict = {}  # context -> the first place it was seen
    for n, (seq, prime) in enumerate(zip(sequences, primes)):
        for t in range(prime - 1, len(seq) - 1):
            # fewer than k characters before: the sequence's start is part of the context
            key = (True, seq[: t + 1]) if t + 1 < k else (False, seq[t - k + 1 : t + 1])
            if key not in seen:
                seen[key] = (n, t + 1)
            else:
                m, i = seen[key]
                if sequences[m][i] != seq[t + 1]:
                    return (m, i), (n, t + 1)
    return None


def context_needed(text: str | Corpus, window: int = SEED_WINDOW) -> ContextNeed:
    """The shortest context that determines every next character of `text`, and whether a window
    of `window` characters can learn it (see ContextNeed).

    text: a text (read as one sequence) or a Corpus (a corpus of lines: each line from its start,
        its priming words given, as `Corpus.prime_length` says).
    A str that names a built-in corpus is refused as for training: pass CORPORA[name].
    Raises CharmodelsError ("text_expected", "text_too_short", "not_whole").
    """
    corpus = as_corpus(text)
    window = checks.whole("window", window, 1, 1_000_000)
    sequences = corpus.sequences()
    if all(len(s) < 2 for s in sequences):
        raise CharmodelsError("text_too_short")
    primes = [corpus.prime_length(s) for s in sequences]
    longest = max(len(s) for s in sequences)
    # One sequence is always determined once its whole beginning is context; lines that begin
    # alike and end differently never are.
    if len(sequences) > 1 and _contexts(sequences, primes, longest) is not None:
        return ContextNeed(None, window, False, None)
    # More context only refines: double k until it is enough, then halve the gap. Each pass costs
    # about len(text) x k, so the search costs a few times len(text) x the answer.
    high = 1
    while high < longest and _contexts(sequences, primes, high) is not None:
        high = min(2 * high, longest)
    low = high // 2 + 1 if high > 1 else 1
    while low < high:
        mid = (low + high) // 2
        if _contexts(sequences, primes, mid) is None:
            high = mid
        else:
            low = mid + 1
    example = None
    if low > 1:
        k = low - 1
        places = _contexts(sequences, primes, k)
        starts = [sum(len(s) for s in sequences[:n]) for n in range(len(sequences))]
        (m, i), (n, j) = places
        far = lambda seq, at: seq[at - k - 1] if at - k - 1 >= 0 else ""
        example = Ambiguity(sequences[m][i - k : i], starts[m] + i, sequences[m][i], far(sequences[m], i),
                            starts[n] + j, sequences[n][j], far(sequences[n], j))
    return ContextNeed(low, window, low <= window, example)


# ---- the two recipes ---------------------------------------------------------------------


@dataclass(frozen=True)
class CourseRecipe:
    """Seed 000's recipe: sliding windows read from a fresh state, full-batch Adam.

    Attributes:
        cell: "rnn" (the seed's Goethe model) or "lstm" (its anthem model); "gru" too.
        window: characters per window (the seed's sequence_length = 10).
        lr: Adam's learning rate (0.1).
        epochs: full-batch steps over all windows (51 for goethe; 101 for the anthem).
        layers: stacked layers (num_layers = 2).
        hidden_size: None = the vocabulary's size, as the seed's CharRNN(dict_size, dict_size, 2).
        seed: seeds the initial weights (the seed leaves them to torch's global generator).
    """

    cell: str = "rnn"
    window: int = SEED_WINDOW
    lr: float = 0.1
    epochs: int = 51
    layers: int = 2
    hidden_size: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        checks.choice("cell", self.cell, CELLS)
        checks.whole("window", self.window, 1, 1000)
        checks.number("lr", self.lr, 0, 1, above_low=True)
        checks.whole("epochs", self.epochs, 1, 100_000)
        checks.whole("layers", self.layers, 1, 8)
        if self.hidden_size is not None:
            checks.whole("hidden_size", self.hidden_size, 1, 4096)
        checks.whole("seed", self.seed, 0, 2**31 - 1)

    def to_dict(self) -> dict:
        return asdict(self)


def seed_recipe(name: str, seed: int = 0) -> CourseRecipe:
    """Seed 000's recipe for one of its texts: goethe (RNN, 51 epochs) or anthem (LSTM, 101)."""
    checks.choice("text", name, [n for n, _ in SEED_TEXTS])
    cell = dict(SEED_TEXTS)[name]
    return CourseRecipe(cell=cell, epochs=51 if name == "goethe" else 101, seed=seed)


@dataclass(frozen=True)
class RecipeRun:
    """One recipe trained on one text, and what it learned.

    Fields:
        recipe: COURSE_RECIPE ("course", seed 000's windows) or WHOLE_RECIPE ("whole", train()).
        name: the text's name.
        cell, hidden_size, layers: the model trained.
        steps: optimizer steps taken (epochs for the windows; every attempt's for train()).
        seconds: training time.
        loss: the last step's loss (nats per character).
        prediction: teacher-forced argmax predictions of the text's characters after the first,
            as the seed prints them (for the windows: the first window's, then the last
            character of each later window's).
        recitation: greedy text from the first character, as long as the text (for the windows:
            each next character read from the last `window` characters from a fresh state).
        predicts: `prediction` is the text after its first character, every character right.
        recites: `recitation` is the text.
        first_wrong: index in the text of the first character the prediction gets wrong, or None.
        stopped: the run was stopped (its time ran out, or its holder asked) before it finished.
        snapshots: (step, prediction) every SNAPSHOT_EVERY epochs for the windows, as the seed
            prints them; for train(), the history's thinned prediction strings.
    """

    recipe: str
    name: str
    cell: str
    hidden_size: int
    layers: int
    steps: int
    seconds: float
    loss: float
    prediction: str
    recitation: str
    predicts: bool
    recites: bool
    first_wrong: int | None
    stopped: bool
    snapshots: tuple[tuple[int, str], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        record = asdict(self)
        record["snapshots"] = [list(s) for s in self.snapshots]
        return record


def _first_wrong(text: str, prediction: str) -> int | None:
    for i, (want, got) in enumerate(zip(text[1:], prediction)):
        if want != got:
            return i + 1
    return None if len(prediction) == len(text) - 1 else len(prediction) + 1


def _windows(corpus: Corpus, model: CharModel, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every sliding window of each sequence (the seed's ``range(0, len(text) - window)``):
    inputs (n, window) and targets (n, window) ids."""
    xs, ys = [], []
    for seq in corpus.sequences():
        ids = model.vocab.encode(seq)
        for i in range(len(ids) - window):
            xs.append(ids[i : i + window])
            ys.append(ids[i + 1 : i + window + 1])
    if not xs:
        raise CharmodelsError("text_too_short")
    return torch.tensor(xs), torch.tensor(ys)


def _seed_string(argmax: torch.Tensor, model: CharModel) -> str:
    """The seed's textimize_result: the first window's argmax, then each later window's last."""
    ids = argmax[0].tolist() + argmax[1:, -1].tolist()
    return model.vocab.decode(ids)


def _window_recitation(model: CharModel, first: str, length: int, window: int) -> str:
    """Greedy text from `first`, each next character predicted from the last `window` characters
    read from a fresh state: what a model trained on windows has ever seen."""
    ids = model.vocab.encode(first)
    with torch.inference_mode():
        for _ in range(length):
            logits, _ = model(torch.tensor([ids[-window:]]))
            ids.append(int(logits[0, -1].argmax()))
    return model.vocab.decode(ids)


def course_run(
    text: str | Corpus,
    recipe: CourseRecipe = CourseRecipe(),
    on_step: Callable[[int, float, str], bool | None] | None = None,
) -> RecipeRun:
    """Train seed 000's windowed recipe on a text (a plain text: the seed reads one sequence).

    on_step(epoch, loss, prediction) after each epoch's forward pass, before its update (what
    the seed prints at every tenth); returning False stops with the weights so far.
    """
    corpus = as_corpus(text)
    if corpus.lines:
        corpus = Corpus(corpus.name, corpus.text, corpus.source)  # the seed slides over the text as it is
    if len(corpus.text) <= recipe.window:
        raise CharmodelsError("text_too_short")
    vocab = corpus_vocab(corpus)
    hidden = recipe.hidden_size or len(vocab)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = CharModel(ModelConfig(recipe.cell, hidden, recipe.layers), vocab)
    inputs, targets = _windows(corpus, model, recipe.window)
    batch = Window(inputs, targets)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    snapshots: list[tuple[int, str]] = []
    last = {"loss": math.nan, "stopped": False}

    def scored(s: Scored) -> bool | None:
        prediction = _seed_string(s.logits.argmax(-1), model)
        last["loss"] = s.loss
        if (s.step - 1) % SNAPSHOT_EVERY == 0:
            snapshots.append((s.step - 1, prediction))  # the seed numbers its epochs from 0
        if on_step is not None and on_step(s.step, s.loss, prediction) is False:
            last["stopped"] = True
            return False
        return None

    started = time.perf_counter()
    fitted = fit(model, optimizer, lambda step: batch, Loop(recipe.epochs), on_scored=scored)
    seconds = time.perf_counter() - started
    model.eval()
    with torch.inference_mode():
        logits, _ = model(inputs)
    prediction = _seed_string(logits.argmax(-1), model)
    recitation = _window_recitation(model, corpus.text[0], len(corpus.text) - 1, recipe.window)
    return RecipeRun(COURSE_RECIPE, corpus.name, recipe.cell, hidden, recipe.layers, fitted.steps, round(seconds, 3),
                     last["loss"], prediction, recitation, prediction == corpus.text[1:], recitation == corpus.text,
                     _first_wrong(corpus.text, prediction), last["stopped"], tuple(snapshots))


def whole_run(
    text: str | Corpus,
    cell: str,
    train_config: TrainConfig = WHOLE_CONFIG,
    hidden_size: int = WHOLE_HIDDEN,
    on_step: Callable[[Progress], bool | None] | None = None,
) -> RecipeRun:
    """Train charmodels' whole-sequence recipe (`train`) on a text; on_step as train()'s."""
    corpus = as_corpus(text)
    checks.choice("cell", cell, CELLS)
    model, history = train(corpus, ModelConfig(cell, hidden_size), train_config, on_step)
    batch = encode_corpus(corpus, model.vocab)
    with torch.inference_mode():
        logits, _ = model(batch.inputs)
    read = teacher_forced(logits, batch, model.vocab)  # the weights train() returned, read once
    prediction = read.prediction[1:]  # for a corpus of lines, each line's first character stays in
    prime = corpus.text[0]
    recitation = prime + "".join(step.char for step in generate(model, prime, len(corpus.text) - 1))
    predicts = read.tf_acc == 1.0
    loss = history.loss[-1][1] if history.loss else math.nan
    return RecipeRun(WHOLE_RECIPE, corpus.name, cell, hidden_size, 1, history.steps, round(history.seconds, 3), loss,
                     prediction, recitation, predicts, recitation == corpus.text, _first_wrong(corpus.text, prediction),
                     history.stopped, tuple(tuple(s) for s in history.snapshots))


# ---- the comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One text under both recipes: `course` (seed 000's windows) and `whole` (train()),
    and how much context the text needs (`context`, for the course's window)."""

    name: str
    text: str
    context: ContextNeed
    course: RecipeRun
    whole: RecipeRun

    def to_dict(self) -> dict:
        return {"name": self.name, "text": self.text, "context": asdict(self.context),
                "course": self.course.to_dict(), "whole": self.whole.to_dict()}


@dataclass(frozen=True)
class CourseProgress:
    """The comparison as it runs: the runs finished so far and the one under way."""

    done: tuple[RecipeRun, ...]  # finished runs, in order
    name: str  # the text being trained
    recipe: str  # COURSE_RECIPE or WHOLE_RECIPE
    step: int
    loss: float
    prediction: str  # the current prediction string
    elapsed: float  # seconds since the comparison began


def compare(
    texts: tuple[tuple[Corpus, str], ...] | None = None,
    seed: int = 0,
    time_limit: float = COURSE_TIME_LIMIT,
    on_progress: Callable[[CourseProgress], bool | None] | None = None,
) -> tuple[Comparison, ...]:
    """Each (corpus, cell) under seed 000's recipe and then charmodels' (default: SEED_TEXTS).

    The time is shared: each text may use its share of what is left of `time_limit`; a run
    that reaches its share is stopped and measured as it is (RecipeRun.stopped). on_progress
    after every step; returning False stops everything (the runs so far are measured).
    """
    if texts is None:
        texts = tuple((CORPORA[name], cell) for name, cell in SEED_TEXTS)
    seed = checks.whole("seed", seed, 0, 2**31 - 1)
    time_limit = checks.number("time_limit", time_limit, 0, 3600, above_low=True)
    started = time.monotonic()
    done: list[RecipeRun] = []
    results = []
    halted = [False]
    for index, (corpus, cell) in enumerate(texts):
        now = time.monotonic()
        deadline = now + (started + time_limit - now) / (len(texts) - index)  # a fair share of what is left

        def keep_going(recipe: str, step: int, loss: float, prediction: str, name=corpus.name, deadline=deadline) -> bool:
            if on_progress is not None and not halted[0]:
                progress = CourseProgress(tuple(done), name, recipe, step, loss, prediction, time.monotonic() - started)
                if on_progress(progress) is False:
                    halted[0] = True
            return not halted[0] and time.monotonic() < deadline

        name = corpus.name
        is_seed_text = (name, cell) in SEED_TEXTS and CORPORA.get(name) == corpus
        recipe = seed_recipe(name, seed) if is_seed_text else CourseRecipe(cell=cell, seed=seed)
        course = course_run(corpus, recipe, lambda step, loss, p: keep_going(COURSE_RECIPE, step, loss, p))
        done.append(course)
        whole = whole_run(corpus, cell, TrainConfig(seed=seed),
                          on_step=lambda p: keep_going(WHOLE_RECIPE, p.total_steps, p.loss, p.prediction[1:]))
        done.append(whole)
        results.append(Comparison(name, corpus.text, context_needed(corpus, recipe.window), course, whole))
    return tuple(results)


def _digest(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CourseComparison:
    """The comparison as work for the app's fair training queue (charmodels.fairqueue.Work):
    checked when made, keyed (the same texts, cells and seed give the same result, so a class
    clicking the same button shares one run), estimated, bounded by `time_limit`.

    Public (not private) for seed 000's texts; a visitor's own text is private work.
    """

    texts: tuple[tuple[Corpus, str], ...]
    seed: int = 0
    time_limit: float = COURSE_TIME_LIMIT

    kind: ClassVar[str] = "course"

    @property
    def private(self) -> bool:
        return any(CORPORA.get(corpus.name) != corpus for corpus, _ in self.texts)

    @classmethod
    def checked(cls, text: object = None, cell: object = "lstm", seed: object = 0, name: str = "mytext",
                time_limit: float = COURSE_TIME_LIMIT) -> CourseComparison:
        """None or "" for seed 000's texts (goethe with the RNN, anthem with the LSTM), else a
        visitor's text (at most COURSE_MAX_TEXT characters) with `cell`; a CharmodelsError
        names the first bad value."""
        seed = checks.whole("seed", seed, 0, 2**31 - 1)
        time_limit = checks.number("time limit", time_limit, 0, COURSE_TIME_LIMIT, above_low=True)
        if text is None or text == "":
            return cls(tuple((CORPORA[n], c) for n, c in SEED_TEXTS), seed, time_limit)
        text = checks.text("text", text)
        cell = checks.choice("cell", cell.strip().lower() if isinstance(cell, str) else cell, CELLS)
        if len(text) > COURSE_MAX_TEXT:
            raise CharmodelsError("text_too_long", n=len(text), limit=COURSE_MAX_TEXT, over=len(text) - COURSE_MAX_TEXT)
        corpus = corpus_from_text(checks.text("name", name).strip() or "mytext", text, "user text")
        if len(corpus.text) <= SEED_WINDOW:
            raise CharmodelsError("course_text_too_short", window=SEED_WINDOW)
        return cls(((corpus, cell),), seed, time_limit)

    @property
    def key(self) -> str:
        return _digest({"work": self.kind, "seed": self.seed, "time_limit": self.time_limit,
                        "texts": [[c.name, c.text, c.lines, cell] for c, cell in self.texts]})

    def estimate(self) -> tuple[float, float]:
        """(expected, at most) seconds on one worker: a few seconds per text; the limit bounds it."""
        expected = sum(1.0 + len(c.text) / 200 for c, _ in self.texts)
        return min(expected, self.time_limit), self.time_limit + 1.0

    def reusable(self, result: tuple[Comparison, ...]) -> bool:
        return not any(c.course.stopped or c.whole.stopped for c in result)

    def run(self, context: Any) -> tuple[Comparison, ...] | None:
        def on_progress(progress: CourseProgress) -> bool:
            context.report(progress)
            return not context.should_stop()

        results = compare(self.texts, self.seed, self.time_limit, on_progress)
        return None if context.abandoned() else results
