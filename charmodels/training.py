"""Training: the one loop every trainer runs, and `train()` for short texts.

`fit()` is the loop: read a window, compute the loss on the positions it counts, step
the optimizer. Short texts (the whole text as one sequence, `train()` here), long texts
(truncated BPTT over parallel streams, `charmodels.longtext`), the memory lab
(`charmodels.lab`) and the app's trainings (`charmodels.jobs`) all run it, and differ
only in the windows they feed it and the hooks they pass:

- `on_scored(Scored)` after the forward pass, before the update: returning False stops
  with the weights just scored (train() stops there once the text is recited);
- `on_step(Stepped)` after the update: returning False stops after it (progress,
  validation, checkpoints, time limits and Stop buttons live there).

Divergence stops the loop too: a loss or gradient that is not finite ends it before the
update, and an update that makes a weight overflow is undone, so the model keeps its last
finite weights; `Fitted.reason` says "diverged" and `diverged_at` at which step.

Under several processes (`charmodels.distributed`, torchrun) the same loop runs in each,
the forward pass through DistributedDataParallel (`ddp=`): backward averages the gradients
over the processes, and every decision (the loss, divergence, the gradient norm) is taken
on values all processes share, so they all step and stop together.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field

import torch
from torch.nn import functional as F

from . import distributed, kernels
from .checkpoint import corpus_record
from .checks import number, whole
from .corpora import Corpus, as_corpus
from .data import corpus_vocab, encode_corpus
from .errors import CharmodelsError
from .metrics import teacher_forced
from .model import CELLS, CharModel, ModelConfig, State

SNAPSHOTS = 48  # prediction strings kept in a history, spread over the whole run
CURVE_POINTS = 400  # loss-curve points kept in a history


# ---- the one loop --------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """What one step reads."""

    inputs: torch.Tensor  # (batch, time) ids read
    targets: torch.Tensor  # (batch, time) ids to predict
    mask: torch.Tensor | None = None  # (batch, time) bool: the positions the loss counts; None = all
    carry: bool = False  # start from the state the previous window ended in (truncated BPTT), else from zeros


@dataclass(frozen=True)
class Scored:
    """After a forward pass, before its update."""

    step: int  # the step this forward pass belongs to (1 = the first)
    loss: float  # mean cross-entropy over the counted positions, nats
    logits: torch.Tensor  # (batch, time, vocab), detached


@dataclass(frozen=True)
class Stepped:
    """After an update."""

    step: int  # updates made in all (resumed runs included)
    loss: float  # the loss this update descended
    lr: float  # the learning rate it used
    state: State  # the recurrent state the window ended in (detached): what the next window carries


@dataclass(frozen=True)
class Fitted:
    steps: int  # updates made in all
    reason: str  # "max_steps", "hook" (a hook returned False) or "diverged"
    state: State | None  # the state the last window ended in
    diverged_at: int | None = None  # the step whose loss or gradient was not finite


@dataclass(frozen=True)
class Loop:
    """How the loop steps; what it reads comes from the windows."""

    max_steps: int  # stop after this many updates in all
    clip: float | None = None  # gradient-norm clipping (None = none)
    schedule: Callable[[int], float] | None = None  # step -> learning rate (None = the optimizer's own)
    dropout: float = 0.0  # while training: between stacked layers and before the head, where char-rnn puts it
    precision: str = "fp32"  # "bf16": forward passes under bfloat16 autocast; weights, gradients, optimizer stay fp32


def fit(
    model: CharModel,
    optimizer: torch.optim.Optimizer,
    windows: Callable[[int], Window],
    loop: Loop,
    *,
    step: int = 0,
    state: State | None = None,
    on_scored: Callable[[Scored], bool | None] | None = None,
    on_step: Callable[[Stepped], bool | None] | None = None,
    ddp: torch.nn.Module | None = None,
) -> Fitted:
    """Train `model` from update `step` on until `loop.max_steps`, a hook stops it, or it diverges.

    `windows(n)` gives what update n + 1 reads (called exactly once per forward pass, in
    order, so a seeded source stays reproducible). `state` is the carried state a resumed
    run starts from. The model is left in training mode; the caller decides what follows.

    `ddp`: `model` wrapped in DistributedDataParallel (`distributed.wrap`) when several
    processes train it, each on its share of the windows' rows. The forward passes run
    through it, so backward averages the gradients over the processes; the loss that
    `Scored`/`Stepped` report and divergence is judged on is the mean over the processes
    (the global batch's loss when every share counts as many positions). `on_scored` sees
    this process's logits. A hook that stops the loop must decide the same in every process
    (charmodels.longtext takes rank 0's decision). The fast CPU layers and dropout are
    installed on `model` itself.
    """
    device = model.head.weight.device
    forward = model if ddp is None else ddp
    params = [p for p in model.parameters() if p.requires_grad]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if loop.precision == "bf16" else nullcontext()
    reason, diverged_at = "max_steps", None
    last_finite = [torch.empty_like(p) for p in params]  # the weights before the update, should it overflow them
    forward.train()  # the model, and the wrapper around it if any
    with kernels.fast_training(model), _dropout(model, loop.dropout):
        while step < loop.max_steps:
            window = windows(step)
            inputs, targets = window.inputs.to(device), window.targets.to(device)
            with autocast:
                logits, new_state = forward(inputs, state if window.carry else None)  # (batch, time, vocab)
            if window.mask is None:
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
            else:
                mask = window.mask.to(device)
                loss = F.cross_entropy(logits[mask].float(), targets[mask])
            value = loss.item() if ddp is None else distributed.mean(loss)  # every process judges the same value
            if on_scored is not None and on_scored(Scored(step + 1, value, logits.detach())) is False:
                reason = "hook"
                break
            if not math.isfinite(value):
                reason, diverged_at = "diverged", step + 1
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grads = [p.grad for p in params if p.grad is not None]
            if loop.clip is not None:
                norm = torch.nn.utils.clip_grad_norm_(params, loop.clip)
            else:
                norm = torch.nn.utils.get_total_norm(grads)
            if not torch.isfinite(norm):  # the weights are still the last finite ones: stop before updating them
                reason, diverged_at = "diverged", step + 1
                break
            lr = optimizer.param_groups[0]["lr"]
            if loop.schedule is not None:
                lr = loop.schedule(step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
            for kept, p in zip(last_finite, params):
                kept.copy_(p.detach())
            optimizer.step()
            if not torch.isfinite(torch.nn.utils.get_total_norm(params)):  # finite gradients, too large a step
                for kept, p in zip(last_finite, params):
                    p.detach().copy_(kept)
                reason, diverged_at = "diverged", step + 1
                break
            step += 1
            state = tuple(s.detach().float() for s in new_state)  # truncated BPTT: keep the values, cut the graph
            if on_step is not None and on_step(Stepped(step, value, lr, state)) is False:
                reason = "hook"
                break
    return Fitted(step, reason, state, diverged_at)


@contextmanager
def _dropout(model: CharModel, p: float):
    """Dropout in training mode only: on the input of every stacked layer but the first
    (the recurrent module's own `dropout`) and on the top layer's outputs before the head (a
    pre-hook). Nothing of it is stored: the checkpoint is the plain model."""
    if not p:
        yield
        return
    model.rnn.dropout = p if model.config.layers > 1 else 0.0
    hook = model.head.register_forward_pre_hook(lambda head, args: (F.dropout(args[0], p, head.training),))
    try:
        yield
    finally:
        hook.remove()
        model.rnn.dropout = 0.0


class Thinning:
    """About `keep` evenly spaced points of a run of unknown length, in bounded memory: when
    full, every other point goes and the stride doubles. The last point is always kept."""

    def __init__(self, keep: int):
        self.keep, self.stride, self.points, self.last = keep, 1, [], None

    def add(self, step: int, value) -> None:
        self.last = (step, value)
        if (step - 1) % self.stride == 0:
            self.points.append((step, value))
            if len(self.points) >= 2 * self.keep:
                self.points = self.points[::2]
                self.stride *= 2

    def result(self) -> list:
        points = list(self.points)
        if self.last is not None and (not points or points[-1] != self.last):
            points.append(self.last)  # the final state is always shown
        return points

    def to_dict(self) -> dict:
        return {"stride": self.stride, "points": self.points, "last": self.last}

    @classmethod
    def from_dict(cls, keep: int, saved: dict) -> Thinning:
        thinning = cls(keep)
        thinning.stride = saved["stride"]
        thinning.points = [tuple(p) for p in saved["points"]]
        thinning.last = tuple(saved["last"]) if saved["last"] else None
        return thinning


# ---- short texts: the whole text at once, until it is recited ---------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How `train()` trains a short text until it recites it (the quality bar).

    Attributes:
        lr: Adam's learning rate for the first attempt. On goethe, which needs 28 characters
            of context, the RNN and the GRU mostly stall at p = 0.5 between "apply" and "do"
            at 3e-3 and 1e-2; at 3e-2 they break through.
        max_steps: steps one attempt may take before it counts as stuck.
        attempts: attempts in all; each retry uses seed + 1 and the learning rate x lr_decay.
        lr_decay: learning-rate factor from one attempt to the next (rescues a run too hot for its seed).
        patience: steps without a 1% better loss that count as stuck.
        clip: gradient-norm clipping, so one bad step cannot blow the weights up.
        seed: seeds the weights of the first attempt.
        target_min_p: stop when every counted position is right with at least this probability
            (a margin over the bar's 0.9, so float rounding never decides it).
    """

    lr: float = 0.03
    max_steps: int = 300
    attempts: int = 8
    lr_decay: float = 0.7
    patience: int = 60
    clip: float = 1.0
    seed: int = 0
    target_min_p: float = 0.92

    def __post_init__(self) -> None:
        number("TrainConfig.lr", self.lr, 0, 1, above_low=True)
        whole("TrainConfig.max_steps", self.max_steps, 1, 10_000_000)
        whole("TrainConfig.attempts", self.attempts, 1, 100)
        number("TrainConfig.lr_decay", self.lr_decay, 0, 1, above_low=True)
        whole("TrainConfig.patience", self.patience, 1, 10_000_000)
        number("TrainConfig.clip", self.clip, 0, math.inf, above_low=True)
        whole("TrainConfig.seed", self.seed, 0, 2**63 - 1)
        number("TrainConfig.target_min_p", self.target_min_p, 0, 0.999999)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    """What a caller sees after each scored step (train.py prints it, the app plots it).

    Attributes:
        attempt: which attempt (1 = the first).
        step: steps taken in this attempt.
        total_steps: steps taken in all attempts.
        loss: cross-entropy at this step, nats per character.
        tf_acc: teacher-forced accuracy of the weights just scored.
        min_p: the smallest probability they give a right next character.
        prediction: the argmax at every position under teacher forcing, as the seeds print it.
    """

    attempt: int
    step: int
    total_steps: int
    loss: float
    tf_acc: float
    min_p: float
    prediction: str


@dataclass
class History:
    """How a `train()` run went; saved in the checkpoint, replayed by the app.

    Attributes:
        steps: steps taken in all attempts.
        attempts: attempts made.
        seconds: training time.
        reached: the criterion held when training stopped.
        stopped: the caller stopped it (on_step returned False).
        diverged_at: the step whose loss or gradient was not finite, if one was (the attempt ended there).
        restarts: the total step at which each retry began.
        best: the attempt and step whose weights were returned, and their scores: the weights that
            reached the bar, else the best scored in any attempt (highest tf_acc, then min_p, then lowest loss).
        loss: (total step, loss) pairs, thinned to about CURVE_POINTS.
        snapshots: (total step, prediction string) pairs, thinned to about SNAPSHOTS.
    """

    steps: int = 0
    attempts: int = 0
    seconds: float = 0.0
    reached: bool = False
    stopped: bool = False
    diverged_at: int | None = None
    restarts: list[int] = field(default_factory=list)
    best: dict = field(default_factory=dict)
    loss: list[tuple[int, float]] = field(default_factory=list)
    snapshots: list[tuple[int, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def as_model_config(model_config: ModelConfig | str) -> ModelConfig:
    """A ModelConfig, or a cell name ("lstm") meaning that cell with the default sizes."""
    if isinstance(model_config, ModelConfig):
        return model_config
    if isinstance(model_config, str) and model_config in CELLS:
        return ModelConfig(model_config)
    raise TypeError(f"model_config must be a ModelConfig or one of {', '.join(CELLS)}, got {model_config!r}")


def train(
    text: str | Corpus,
    model_config: ModelConfig | str = ModelConfig(),
    train_config: TrainConfig = TrainConfig(),
    on_step: Callable[[Progress], bool | None] | None = None,
) -> tuple[CharModel, History]:
    """Train a model on a short text until it recites it confidently, or the attempts run out.

    The whole text is read as one sequence (full backpropagation through time; a corpus of
    lines, one sequence per line). Each step is scored before its update: once every
    counted position's argmax is right with at least `target_min_p`, training stops with
    those weights. An attempt that stops improving (`patience`) restarts with seed + 1 and a
    smaller learning rate. If no attempt reaches the bar, the best weights seen in any
    attempt are returned (`history.best` says which).

    Args:
        text: the text, or a Corpus (a corpus of lines brings `lines=True`). A plain string
            that names a built-in corpus is refused: pass CORPORA[name] for the corpus.
        model_config: a ModelConfig, or a cell name ("rnn", "lstm", "gru").
        train_config: the recipe (TrainConfig).
        on_step: called after every scored step with a Progress; returning False stops at
            once, keeping the weights just scored.

    Returns:
        (model, history): the model in eval mode, its `info` filled with the corpus record,
        the training config and the history (what save_checkpoint writes by default).
    """
    corpus = as_corpus(text)
    if len(corpus.text) < 2:
        raise CharmodelsError("text_too_short")
    model_config = as_model_config(model_config)
    vocab = corpus_vocab(corpus)  # a corpus of lines reads a newline even when its text has none
    batch = encode_corpus(corpus, vocab)
    history = History()
    started = time.perf_counter()
    losses, snapshots = Thinning(CURVE_POINTS), Thinning(SNAPSHOTS)
    cfg = train_config
    best_key, best_weights = None, None
    whole_text = _repeat(batch)
    for attempt in range(1, cfg.attempts + 1):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed + attempt - 1)
            model = CharModel(model_config, vocab)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr * cfg.lr_decay ** (attempt - 1))
        history.attempts = attempt
        if attempt > 1:
            history.restarts.append(history.steps + 1)
        first_step = history.steps
        plateau = {"loss": math.inf, "step": 0}

        def scored(s: Scored) -> bool:
            nonlocal best_key, best_weights
            scores = teacher_forced(s.logits, batch, vocab)
            history.steps = first_step + s.step
            losses.add(history.steps, round(s.loss, 5))
            snapshots.add(history.steps, scores.prediction)
            reached = scores.tf_acc == 1.0 and scores.min_p >= cfg.target_min_p
            key = (reached, scores.tf_acc, scores.min_p, -s.loss)
            if best_key is None or key > best_key:
                best_key, best_weights = key, copy.deepcopy(model.state_dict())
                history.best = {"attempt": attempt, "step": history.steps, "tf_acc": scores.tf_acc,
                                "min_p": scores.min_p, "loss": s.loss}
            progress = Progress(attempt, s.step, history.steps, s.loss, scores.tf_acc, scores.min_p, scores.prediction)
            if on_step is not None and on_step(progress) is False:
                history.stopped = True
            history.reached = reached
            return not (reached or history.stopped)

        def stepped(s: Stepped) -> bool:
            if s.loss < plateau["loss"] * 0.99:
                plateau.update(loss=s.loss, step=s.step)
            return s.step - plateau["step"] < cfg.patience  # stuck: start again with a new seed and a smaller step

        fitted = fit(model, optimizer, whole_text, Loop(cfg.max_steps, clip=cfg.clip), on_scored=scored, on_step=stepped)
        if fitted.reason == "diverged":
            history.diverged_at = first_step + fitted.diverged_at
        if history.reached or history.stopped:
            break
    if not (history.reached or history.stopped):  # out of attempts: the best weights scored in any of them
        model = CharModel(model_config, vocab)
        model.load_state_dict(best_weights)
    history.seconds = time.perf_counter() - started
    history.loss, history.snapshots = losses.result(), snapshots.result()
    model.eval()
    model.info = {"corpus": corpus_record(corpus), "train_config": cfg.to_dict(), "history": history.to_dict()}
    return model, history


def _repeat(batch) -> Callable[[int], Window]:
    """The whole corpus as every step's window: the loss counts every real position, not padding."""
    window = Window(batch.inputs, batch.targets, batch.valid)
    return lambda step: window
