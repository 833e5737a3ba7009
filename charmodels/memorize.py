"""Learning a short text by heart, fast: truncated-BPTT windows over the text, on the one loop.

`train()` (charmodels.training) reads the whole text as one sequence at every step: one
update per reading. `memorize()` reads the same text in windows and updates after each
one, so one reading of the text (a *pass*) makes several updates, and the model reaches
the quality bar in fewer readings (bench/classroom.py measures both side by side):

- The text is cut into *streams* of `windows_per_stream` x `window` characters, read side
  by side (one batch row each), window by window, each window's state carried to the next
  within the pass (truncated backpropagation through time, as char-rnn does it).
- A stream starts from the state the text had at its first character the last time a
  window ended there (a table of states at every half window; the text's start: zeros).
  Every position is then read with nearly the state a reading of the whole text from its
  start gives it, which is how the quality bar reads it.
- Each pass cuts the text half a window further on than the one before, so the window
  edges move: a dependency up to half a window long that one pass cuts, the next reads
  whole (the lecture prose repeats phrases that take 25-38 characters to tell apart).
- The bar is checked the way `metrics.evaluate` measures it, on one teacher-forced reading
  of the whole text from a zero state; only when a pass's own windows already got every
  counted position right with the margin (`target_min_p`), since that reading costs
  several windows' worth of time.
- A step of the budget (`max_passes`) is a pass: the whole text read once, as one step of
  `train()` reads it; `Progress` reports passes.

A short text (at most `short_text(config)` characters) and a corpus of lines are read
whole by `train()` itself, restarts included, within the same budget: windows would only
cut their few long dependencies.

A loss or gradient that is not finite (`fit` stops before the update, the weights are the
last finite ones) continues from those weights with a fresh optimizer at half the rate.
When the budget runs out first, the weights of the best pass are returned (every counted
position right first, then the smallest probability of a right character, then the loss),
and `history.reached` is False: the caller says so (charmodels.jobs reports "all_steps").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from .checkpoint import corpus_record
from .checks import number, whole
from .corpora import Corpus, as_corpus
from .data import Batch, corpus_vocab, encode_corpus
from .errors import CharmodelsError
from .metrics import teacher_forced
from .model import CharModel, ModelConfig
from .training import (
    CURVE_POINTS,
    SNAPSHOTS,
    History,
    Loop,
    Progress,
    Scored,
    Stepped,
    Thinning,
    TrainConfig,
    Window,
    as_model_config,
    fit,
    train,
)

RECIPE = "windows"  # recorded in a checkpoint's train_config, beside train()'s fields


@dataclass(frozen=True)
class MemorizeConfig:
    """How `memorize()` learns a text by heart. The defaults were chosen on paragraphs of
    1,000-2,000 characters of English and Korean prose at hidden size 64 (bench/classroom_recipe.py).

    Attributes:
        lr: Adam's learning rate at the start.
        lr_halving: passes over which the rate halves, down to a tenth of `lr` (None: constant).
            A fast start reaches almost every position; the smaller steps after it settle
            the last few (0.02 halving every 200 passes reached the bar more often and sooner
            than a constant 0.01, 0.015 or 0.02, or 0.03 halving every 100).
        window: characters each update reads per stream (the truncated-BPTT length). Texts
            that repeat a phrase need the characters before it to tell its endings apart:
            the lecture prose repeats phrases of 25-38 characters; 96 (edges moving by 48)
            read them whole more often than 64 or 32.
        windows_per_stream: windows in a stream, so updates per pass; the text is read as
            ceil(length / (window x windows_per_stream)) streams side by side (4 made
            smaller, noisier updates and did worse than 2).
        max_passes: the budget, in passes (readings of the whole text).
        clip: gradient-norm clipping.
        seed: seeds the weights.
        target_min_p: stop when every counted position is right with at least this
            probability (a margin over the bar's 0.9, as in TrainConfig).
    """

    lr: float = 0.02
    window: int = 96
    windows_per_stream: int = 2
    max_passes: int = 300
    clip: float = 1.0
    seed: int = 0
    target_min_p: float = 0.92
    lr_halving: int | None = 200

    def __post_init__(self) -> None:
        number("MemorizeConfig.lr", self.lr, 0, 1, above_low=True)
        whole("MemorizeConfig.window", self.window, 1, 100_000)
        whole("MemorizeConfig.windows_per_stream", self.windows_per_stream, 1, 1000)
        whole("MemorizeConfig.max_passes", self.max_passes, 1, 10_000_000)
        number("MemorizeConfig.clip", self.clip, 0, math.inf, above_low=True)
        whole("MemorizeConfig.seed", self.seed, 0, 2**63 - 1)
        number("MemorizeConfig.target_min_p", self.target_min_p, 0, 0.999999)
        if self.lr_halving is not None:
            whole("MemorizeConfig.lr_halving", self.lr_halving, 1, 10_000_000)

    def rate(self, passes: int, start: float | None = None) -> float:
        """The learning rate for the pass after `passes` passes (from `start`, default `lr`)."""
        start = self.lr if start is None else start
        if self.lr_halving is None:
            return start
        return max(start * 0.5 ** (passes / self.lr_halving), start / 10)

    def to_dict(self) -> dict:
        return {"recipe": RECIPE, **asdict(self)}


@dataclass(frozen=True)
class Cut:
    """One pass's reading of the text: rows of streams, read window by window."""

    starts: tuple[int, ...]  # each row's first position in the text
    lengths: tuple[int, ...]  # each row's real length (the rest of the row is padding)
    inputs: torch.Tensor  # (rows, width) ids read
    targets: torch.Tensor  # (rows, width) ids to predict
    valid: torch.Tensor  # (rows, width) bool: a real position (trained on)
    window: int
    start: torch.Tensor  # the starts as a tensor
    length: torch.Tensor  # the lengths as a tensor

    @property
    def windows(self) -> int:
        return self.inputs.shape[1] // self.window


def cut(ids: torch.Tensor, offset: int, window: int, windows_per_stream: int) -> Cut:
    """The text's ids (inputs then the last target) as streams of windows_per_stream x window
    positions starting at `offset` + k x that length (and a shorter first one from 0)."""
    n = ids.numel() - 1  # positions: each reads ids[i] to predict ids[i + 1]
    width = window * windows_per_stream
    starts = sorted({0, *range(offset % width, n, width)})
    ends = [*starts[1:], n]
    inputs = torch.zeros(len(starts), width, dtype=torch.long)
    targets = torch.zeros(len(starts), width, dtype=torch.long)
    valid = torch.zeros(len(starts), width, dtype=torch.bool)
    for row, (start, end) in enumerate(zip(starts, ends)):
        inputs[row, : end - start] = ids[start:end]
        targets[row, : end - start] = ids[start + 1 : end + 1]
        valid[row, : end - start] = True
    lengths = [e - s for s, e in zip(starts, ends)]
    return Cut(tuple(starts), tuple(lengths), inputs, targets, valid, window, torch.tensor(starts), torch.tensor(lengths))


def memorize(
    text: str | Corpus,
    model_config: ModelConfig | str = ModelConfig(),
    config: MemorizeConfig = MemorizeConfig(),
    on_step: Callable[[Progress], bool | None] | None = None,
) -> tuple[CharModel, History]:
    """Train a model on a short text until it recites it confidently, or the passes run out.

    The same contract as `training.train`: `on_step(Progress)` after every pass (its
    `step` counts passes; returning False stops, keeping the weights just trained, and
    marks the history stopped); returns (model in eval mode, History) with `model.info`
    holding the corpus record, the config and the history.

    A text of at most two streams' length (`short_text`) and a corpus of lines are read
    whole, as `train()` reads them (with its restarts), within the same budget of passes:
    windows would only cut their few long dependencies.
    """
    corpus = as_corpus(text)
    if len(corpus.text) < 2:
        raise CharmodelsError("text_too_short")
    model_config = as_model_config(model_config)
    if corpus.lines or len(corpus.text) <= short_text(config):
        return _whole(corpus, model_config, config, on_step)
    vocab = corpus_vocab(corpus)
    batch = encode_corpus(corpus, vocab)
    n = int(batch.valid[0].sum())
    ids = torch.cat([batch.inputs[0, :n], batch.targets[0, n - 1 : n]])  # the whole text
    window, width = config.window, config.window * config.windows_per_stream
    half = max(1, window // 2)
    cuts: dict[int, Cut] = {}  # offset -> that pass's reading (the offsets repeat)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = CharModel(model_config, vocab)
    # the state the text had at each position, as a window last ended there: (position, layers, hidden) per part
    table = [torch.zeros(n + 1, *part.shape[::2]) for part in model.init_state(1)]
    known = torch.zeros(n + 1, dtype=torch.bool)
    history = History(attempts=1)
    losses, snapshots = Thinning(CURVE_POINTS), Thinning(SNAPSHOTS)
    seen = _Pass(ids, batch.counted[0, :n], batch.first[0], vocab)
    best = {"key": None, "weights": None}
    lr = config.lr
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    step, passes = 0, 0
    current = cut(ids, 0, window, config.windows_per_stream)

    def windows(k: int) -> Window:
        columns = slice((k - step) * window, (k - step + 1) * window)  # fit asks in order, from `step` on
        return Window(current.inputs[:, columns], current.targets[:, columns], current.valid[:, columns], carry=True)

    def scored(s: Scored) -> None:
        seen.add(current, s.step - 1 - step, s.logits, s.loss)

    def stepped(s: Stepped) -> bool | None:
        nonlocal passes
        ended = (s.step - step) * window  # columns read so far in this pass
        rows = current.length >= ended  # the window ended on a real position there: remember the state
        where = current.start[rows] + ended
        for kept, part in zip(table, s.state):
            kept[where] = part[:, rows].transpose(0, 1)
        known[where] = True
        if s.step - step < current.windows:
            return None
        passes += 1
        scores = seen.scores()
        reached = False
        if scores.tf_acc == 1.0 and scores.min_p >= config.target_min_p:
            scores = _whole_text(model, batch, vocab)  # the bar's own reading, with the weights just updated
            reached = scores.tf_acc == 1.0 and scores.min_p >= config.target_min_p
        loss = seen.loss()
        history.steps = passes
        losses.add(passes, round(loss, 5))
        snapshots.add(passes, scores.prediction)
        key = (reached, scores.tf_acc, scores.min_p, -loss)
        if best["key"] is None or key > best["key"]:
            best["key"], best["weights"] = key, {k: v.detach().clone() for k, v in model.state_dict().items()}
            history.best = {"attempt": 1, "step": passes, "tf_acc": scores.tf_acc, "min_p": scores.min_p, "loss": loss}
        history.reached = reached
        if on_step is not None and on_step(Progress(1, passes, passes, loss, scores.tf_acc, scores.min_p, scores.prediction)) is False:
            history.stopped = True
        return not (reached or history.stopped)

    while passes < config.max_passes and not (history.reached or history.stopped):
        offset = (passes * half) % width
        current = cuts.get(offset) or cuts.setdefault(offset, cut(ids, offset, window, config.windows_per_stream))
        state = model.init_state(len(current.starts))
        rows = known[current.start]
        for part, kept in zip(state, table):
            part[:, rows] = kept[current.start[rows]].transpose(0, 1)
        rate = config.rate(passes, lr)
        fitted = fit(model, optimizer, windows, Loop(step + current.windows, clip=config.clip, schedule=lambda k: rate),
                     step=step, state=state,
                     on_scored=scored, on_step=stepped)
        if fitted.reason == "diverged":  # the weights are the last finite ones: go on from there, more gently
            history.diverged_at = history.diverged_at or passes + 1
            lr /= 2
            if lr < config.lr / 1000:  # diverges at every rate: keep the best weights so far
                break
            optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            known[:] = False
            seen.reset()
            continue
        step = fitted.steps
    if not (history.reached or history.stopped) and best["weights"] is not None:
        model.load_state_dict(best["weights"])  # out of passes: the best pass's weights
    history.seconds = time.perf_counter() - started
    history.loss, history.snapshots = losses.result(), snapshots.result()
    model.eval()
    model.info = {"corpus": corpus_record(corpus), "train_config": config.to_dict(), "history": history.to_dict()}
    return model, history


def short_text(config: MemorizeConfig) -> int:
    """The longest plain text `memorize` reads whole (two streams): windows would only cut its dependencies."""
    return 2 * config.window * config.windows_per_stream


def _whole(corpus: Corpus, model_config: ModelConfig, config: MemorizeConfig,
           on_step: Callable[[Progress], bool | None] | None) -> tuple[CharModel, History]:
    """train(), its restarts included, within config.max_passes steps in all."""
    stopped = [False]

    def step(progress: Progress) -> bool | None:
        if on_step is not None and on_step(progress) is False:
            stopped[0] = True
            return False
        return progress.total_steps < config.max_passes  # the budget spent: stop, as out of attempts

    recipe = TrainConfig(max_steps=config.max_passes, seed=config.seed, target_min_p=config.target_min_p, clip=config.clip)
    model, history = train(corpus, model_config, recipe, step)
    history.stopped = stopped[0]
    model.info["history"] = history.to_dict()
    model.info["train_config"] = {**config.to_dict(), "whole": recipe.to_dict()}
    return model, history


def _whole_text(model: CharModel, batch: Batch, vocab) -> object:
    """The bar's measures from one teacher-forced reading of the whole text from a zero state."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits, _ = model(batch.inputs)
    finally:
        model.train(was_training)
    return teacher_forced(logits, batch, vocab)


@dataclass(frozen=True)
class _Scores:
    tf_acc: float
    min_p: float
    prediction: str


class _Pass:
    """What one pass's windows scored at each position of the text: the argmax, and the
    probability of the right character (float32: it only decides when to run the exact check)."""

    def __init__(self, ids: torch.Tensor, counted: torch.Tensor, first: str, vocab):
        self.targets, self.counted, self.first = ids[1:], counted, first
        self.chars = list(vocab.chars)
        self.best = torch.zeros_like(self.targets)
        self.right_p = torch.zeros(self.targets.shape)
        self.losses: list[float] = []

    def reset(self) -> None:
        self.losses = []

    def add(self, reading: Cut, j: int, logits: torch.Tensor, loss: float) -> None:
        if j == 0:
            self.losses = []
        self.losses.append(loss)
        columns = slice(j * reading.window, (j + 1) * reading.window)
        with torch.no_grad():
            valid = reading.valid[:, columns]
            right = logits.gather(-1, reading.targets[:, columns].unsqueeze(-1)).squeeze(-1)
            right_p = (right - torch.logsumexp(logits, dim=-1)).exp()
            where = reading.start[:, None] + torch.arange(columns.start, columns.stop)[None, :]
            self.right_p[where[valid]] = right_p[valid]
            self.best[where[valid]] = logits.argmax(dim=-1)[valid]

    def loss(self) -> float:
        return sum(self.losses) / max(1, len(self.losses))

    def scores(self) -> _Scores:
        n = int(self.counted.sum())
        tf_acc = float(((self.best == self.targets) & self.counted).sum()) / n
        min_p = float(self.right_p[self.counted].min())
        chars = self.chars
        return _Scores(tf_acc, min_p, self.first + "".join([chars[i] for i in self.best.tolist()]))
