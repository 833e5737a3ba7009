"""Training on long texts (megabytes): truncated backpropagation through time on the one loop.

`train()` reads a tiny corpus as one sequence until the model recites it. A long text is
learned the way char-rnn does it, with `training.fit` stepping through windows of
parallel streams (`charmodels.data`):

- **Split.** The last `val_fraction` of the text is held out; the model never trains on it.
- **Streams.** Step k reads window k mod W of every stream; the state at the end of a window
  is carried into the next one, detached (truncated BPTT); every epoch starts from zeros.
- **Validation bpc** over the held-out part (`metrics.held_out_bpc`).
- **Regularisation**: dropout while training, between stacked layers and before the head,
  and weight decay (each optimizer has its own sound default, `OPTIMIZERS`).
- **Learning rate** constant, then from `decay_start` of the run (by steps or by time,
  whichever is further along) linearly down to 0 at the limit. The limits that set this
  schedule are the run's own: a resumed run keeps them (see `resume_changes`).
- **Precision** follows the device: bf16 autocast where it is native (CPUs with AVX-512
  BF16/AMX, GPUs with bf16), fp32 elsewhere; weights, optimizer, checkpoints and
  validation stay fp32.
- **Resume.** Every `checkpoint_every` steps the model goes to a normal checkpoint, and to
  `<name>.train-state.safetensors` beside it everything a run needs to continue, the weights
  included: one file is enough to resume, so a kill between the two writes never leaves a
  pair that cannot continue. A run stopped and resumed ends with the same weights, bit for
  bit, as one that never stopped (same device and threads; a time-limited run's schedule
  follows the clock, so only a step-limited run is reproducible).
- **Several processes** (torchrun, `charmodels.distributed`): every process runs
  `train_long` with the same arguments and trains a contiguous share of the streams
  under DistributedDataParallel; `batch_size` stays the global batch, so a recipe means
  the same on 1 or N processes. Rank 0 alone calls `on_step`, validates and writes the
  checkpoint and the training state, with every process's carried state and random state
  gathered into it: one file, whatever the number of processes. Resuming on the same
  number of processes continues bit for bit; on another number (the batch must split
  evenly) the weights, optimizer, data position, carried states and schedule continue
  exactly, the gradients are summed in another order (float rounding), and dropout draws
  from new streams (seeded by seed, rank and step).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import distributed
from .checkpoint import (
    corpus_record,
    load_checkpoint,
    read_train_state,
    save_checkpoint,
    save_train_state,
    state_path,
    tensor_digest,
)
from .checks import choice, number, whole
from .corpora import Corpus, as_corpus
from .data import Split, Streams, split_text
from .errors import CheckpointError
from .metrics import held_out_bpc
from .model import CharModel, ModelConfig, State
from .training import Loop, Stepped, Thinning, Window, fit
from .vocab import Vocab

RECENT = 100  # steps the reported training loss is averaged over
CURVE_POINTS = 400  # loss-curve points kept in a history
STOPS = ("", "stopped", "time_limit")  # why a step ends the run, as rank 0 tells the other processes


@dataclass(frozen=True)
class Optimizer:
    build: Callable[[Any, float, float], torch.optim.Optimizer]  # (parameters, lr, weight_decay) -> optimizer
    weight_decay: float  # its default: what is sound for it


# Adam's weight decay is decoupled (AdamW), so it pulls weights toward 0 whatever the gradient's
# scale; added to the gradient as L2 (RMSprop, SGD) the same 0.1 dominates the normalised steps and
# ruins the run (5.05 val bpc against 2.75 without, 1000 steps of Tiny Shakespeare), so they default
# to none. RMSprop as char-rnn runs it (decay_rate 0.95, epsilon 1e-8).
OPTIMIZERS: dict[str, Optimizer] = {
    "adam": Optimizer(lambda params, lr, decay: torch.optim.AdamW(params, lr=lr, weight_decay=decay), 0.1),
    "rmsprop": Optimizer(lambda params, lr, decay: torch.optim.RMSprop(params, lr=lr, alpha=0.95, eps=1e-8, weight_decay=decay), 0.0),
    "sgd": Optimizer(lambda params, lr, decay: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=decay), 0.0),
}


def native_bf16(device: str = "cpu") -> bool:
    """Whether `device` computes bfloat16 natively: a CPU with AVX-512 BF16 or AMX (elsewhere a
    CPU emulates it, slower than fp32), or a CUDA GPU that supports it."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# Recipe fields added after version 1 of the training state, with the values runs saved
# before them trained with, so such a run resumes as it began.
ADDED_FIELDS = {"precision": "fp32", "weight_decay": 0.0}

# Fields a resumed run may change freely; every other field is its recipe. The limits
# (max_steps, time_limit) set the learning-rate schedule: see resume_changes().
FREE_FIELDS = ("eval_every", "checkpoint_every", "device")
LIMIT_FIELDS = ("max_steps", "time_limit")

# train.py's default model for long texts (chosen on Tiny Shakespeare; README, decisions).
LONG_MODEL = ModelConfig(cell="lstm", hidden_size=256, layers=2, embedding_dim=0)


@dataclass(frozen=True)
class LongTextConfig:
    """The recipe and limits of a long-text run.

    Attributes:
        seq_len: characters per window: how far back gradients reach (truncated BPTT).
        batch_size: parallel streams, one window of each per step.
        lr: the optimizer's learning rate before the decay.
        optimizer: "adam" (AdamW), "rmsprop" or "sgd".
        weight_decay: None = the optimizer's default (adam 0.1, decoupled; rmsprop and sgd 0).
        decay_start: share of the run after which lr falls linearly to 0 (1.0 = constant).
        val_fraction: the last share of the text held out for validation.
        eval_every: steps between validation measurements (0 = only at the end).
        checkpoint_every: steps between checkpoints + training state (0 = only at the end).
        max_steps: stop after this many steps in all (0 = no step limit).
        time_limit: stop after this many seconds of training in all (0 = no time limit).
        seed: seeds the initial weights.
        clip: gradient-norm clipping.
        dropout: while training only: between stacked layers and before the head.
        precision: "fp32", "bf16" (forward passes under bfloat16 autocast), or None = bf16 where
            the device computes it natively, else fp32.
        device: "cpu", or "cuda" / "cuda:N" when a GPU is present.
    """

    seq_len: int = 50
    batch_size: int = 16
    lr: float = 3e-3
    optimizer: str = "adam"
    weight_decay: float | None = None
    decay_start: float = 0.6
    val_fraction: float = 0.05
    eval_every: int = 1000
    checkpoint_every: int = 1000
    max_steps: int = 0
    time_limit: float = 0.0
    seed: int = 0
    clip: float = 5.0
    dropout: float = 0.25
    precision: str | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        big = 10**12
        whole("seq_len", self.seq_len, 1, 100_000)
        whole("batch_size", self.batch_size, 1, 100_000)
        number("lr", self.lr, 0, 10, above_low=True)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.weight_decay is None:
            object.__setattr__(self, "weight_decay", OPTIMIZERS[self.optimizer].weight_decay)
        number("weight_decay", self.weight_decay, 0, 10)
        number("decay_start", self.decay_start, 0, 1)
        number("val_fraction", self.val_fraction, 0, 0.5, above_low=True)
        whole("eval_every", self.eval_every, 0, big)
        whole("checkpoint_every", self.checkpoint_every, 0, big)
        whole("max_steps", self.max_steps, 0, big)
        number("time_limit", self.time_limit, 0, 1e9)
        whole("seed", self.seed, 0, 2**63 - 1)
        number("clip", self.clip, 0, math.inf, above_low=True)
        number("dropout", self.dropout, 0, 0.999)
        if not _device_name_ok(self.device):
            raise ValueError(f'device must be "cpu", "cuda" or "cuda:N", got {self.device!r}')
        if self.precision is None:
            object.__setattr__(self, "precision", "bf16" if native_bf16(self.device) else "fp32")
        choice("precision", self.precision, ("fp32", "bf16"))
        if not self.max_steps and not self.time_limit:
            raise ValueError("a long-text run needs a limit: max_steps, time_limit or both")

    def to_dict(self) -> dict:
        return asdict(self)

    def recipe(self) -> dict:
        """The fields that decide the weights; a resumed run must keep them."""
        return {k: v for k, v in self.to_dict().items() if k not in FREE_FIELDS + LIMIT_FIELDS}


def _device_name_ok(name: object) -> bool:
    if not isinstance(name, str):
        return False
    kind, colon, index = name.partition(":")
    return (kind == "cpu" and not colon) or (kind == "cuda" and (not colon or index.isdigit()))


def resolve_device(name: str) -> torch.device:
    """The torch device for `name`; asking for CUDA without one is a clear error, never a silent CPU run."""
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA support" if torch.version.cuda is None else "no GPU is visible"
            raise ValueError(f"device {name!r} was asked for, but CUDA is not available ({build}); use --device cpu")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} was asked for, but only {torch.cuda.device_count()} GPU(s) are visible")
    return torch.device(name)


def lr_at(config: LongTextConfig, step: int, elapsed: float) -> float:
    """Constant until `decay_start` of the run (by steps or time, whichever is further), then linear to 0."""
    done = max(step / config.max_steps if config.max_steps else 0.0, elapsed / config.time_limit if config.time_limit else 0.0)
    if done <= config.decay_start or config.decay_start >= 1:
        return config.lr
    return config.lr * max(0.0, (1 - done) / (1 - config.decay_start))


def resume_changes(stored: LongTextConfig, config: LongTextConfig) -> list[str]:
    """Why `config` cannot continue the run saved with `stored` (empty: it can).

    The recipe must stay. The limits may change only when the learning rate is constant:
    they set the decay schedule, and a new horizon would jump it (7.5e-6 at the end of a
    1000-step run back up to 3e-3 when resumed with --max-steps 2000).
    """
    old, new = stored.recipe(), config.recipe()
    problems = [f"{k} {old[k]!r} -> {new[k]!r}" for k in old if old[k] != new[k]]
    if stored.decay_start < 1:
        problems += [
            f"{k} {getattr(stored, k)!r} -> {getattr(config, k)!r} (the learning rate decays to 0 at this run's limit; "
            "keep the limits, or start a new run)"
            for k in LIMIT_FIELDS
            if getattr(stored, k) != getattr(config, k)
        ]
    return problems


@dataclass(frozen=True)
class LongProgress:
    """What a caller sees after each step (train.py prints it).

    Attributes:
        step: steps taken in all, across resumes.
        max_steps: the step limit (0 = none).
        epoch: passes over the training part.
        loss: this step's training loss, nats per character.
        recent_loss: the mean over the last RECENT steps.
        val_bpc: the latest validation bpc (None before the first).
        evaluated: validation was measured at this step.
        saved: a checkpoint was written at this step.
        lr: the learning rate of this step.
        chars_per_s: characters trained per second of this session (evaluation included).
        elapsed: seconds of training in all, across resumes.
        eta: seconds left until a limit, estimated.
    """

    step: int
    max_steps: int
    epoch: float
    loss: float
    recent_loss: float
    val_bpc: float | None
    evaluated: bool
    saved: bool
    lr: float
    chars_per_s: float
    elapsed: float
    eta: float | None


@dataclass
class LongHistory:
    """How a long-text run went; saved in its checkpoint.

    Attributes:
        steps, epochs: progress in all, across resumes.
        seconds: of training in all, across resumes.
        chars_per_s: in the last session.
        train_loss: nats, the mean over the last RECENT steps.
        val_bpc: at the end.
        stopped: the caller stopped it.
        reason: why it ended: "max_steps", "time_limit", "stopped" or "diverged".
        diverged_at: the step whose loss or gradient was not finite, if one was.
        resumed_from: the step each resume continued from.
        loss: (step, loss in nats), thinned; val: (step, validation bpc).
    """

    steps: int = 0
    epochs: float = 0.0
    seconds: float = 0.0
    chars_per_s: float = 0.0
    train_loss: float = math.nan
    val_bpc: float = math.nan
    stopped: bool = False
    reason: str = ""
    diverged_at: int | None = None
    resumed_from: list[int] = field(default_factory=list)
    loss: list[tuple[int, float]] = field(default_factory=list)
    val: list[tuple[int, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        # attempts/restarts/snapshots: the keys the app's model card and replay read
        return {**asdict(self), "attempts": 1, "restarts": [], "snapshots": []}


@dataclass
class Run:
    """Everything besides the model and the optimizer that a resumed run needs."""

    step: int = 0
    elapsed: float = 0.0
    carry: State | None = None  # the hidden state carried into the next window
    losses: Thinning = field(default_factory=lambda: Thinning(CURVE_POINTS))
    val: list[tuple[int, float]] = field(default_factory=list)
    recent: list[float] = field(default_factory=list)
    resumed_from: list[int] = field(default_factory=list)
    world_sizes: list[int] = field(default_factory=list)  # the processes of each session, the first first


def train_long(
    text: str | Corpus,
    model_config: ModelConfig,
    config: LongTextConfig,
    checkpoint_path: str | os.PathLike | None = None,
    on_step: Callable[[LongProgress], bool | None] | None = None,
    resume: bool = False,
) -> tuple[CharModel, LongHistory]:
    """Train on a long text with truncated BPTT until max_steps or time_limit.

    With `checkpoint_path`, a checkpoint and its training state are written every
    `checkpoint_every` steps and at the end (also when `on_step` returns False, which
    stops after the current step). `resume=True` continues from the training state; the
    recipe and the model config must be the ones the run started with. The model is
    returned on the CPU, ready for sampling, evaluation and the app, wherever it trained.

    Under torchrun, once the processes have joined (`distributed.start()`, as train.py
    does), each process calls this with the same arguments and trains its share of the
    `batch_size` streams (ValueError when they do not split evenly); with "cuda" each uses
    cuda:LOCAL_RANK. Rank 0 alone calls `on_step`, validates and writes the files; its
    history is the whole one. Every process reads the training state to resume.
    """
    corpus = as_corpus(text)
    group = distributed.current()
    device = _device(config.device, group)
    rows = distributed.share(config.batch_size, group)  # this process's streams: all of them when alone
    if resume and checkpoint_path is None:
        raise ValueError("resuming needs the checkpoint path the run was saved to")
    split = split_text(corpus.text, config.val_fraction)
    streams = Streams(split.train, config.batch_size, config.seq_len)
    rng_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):  # the caller's RNG is left as it was
        if resume:
            model, optimizer, run = _resume(Path(checkpoint_path), corpus, split.vocab, model_config, config, device, group, rows)
        else:
            torch.manual_seed(config.seed)  # the same initial weights in every process
            model = CharModel(model_config, split.vocab).to(device)
            optimizer = OPTIMIZERS[config.optimizer].build(model.parameters(), config.lr, config.weight_decay)
            run = Run()
            if group is not None and group.world_size > 1:
                _own_stream(config, group, 0)
        run.world_sizes.append(group.world_size if group is not None else 1)
        history = _train(model, optimizer, run, corpus, split, streams, config, checkpoint_path, on_step, group, rows)
    model = model.cpu().eval()
    model.info = _metadata(model, run, corpus, split, config, history, group)
    return model, history


def _device(name: str, group: distributed.Group | None) -> torch.device:
    """The device to train on; under torchrun each process has its own GPU, cuda:LOCAL_RANK."""
    device = resolve_device(name)
    if group is None or device.type != "cuda":
        return device
    if device.index is not None and device.index != group.local_rank:
        raise ValueError(f"under torchrun each process trains on its own GPU, cuda:LOCAL_RANK (here cuda:{group.local_rank}); give --device cuda, not {name!r}")
    return torch.device("cuda", group.local_rank)


def _own_stream(config: LongTextConfig, group: distributed.Group | None, step: int) -> None:
    """Seed this process's random numbers (dropout) from (seed, rank, processes, step): each process
    draws its own masks, and a run started or resumed the same way draws the same ones."""
    rank, world = (group.rank, group.world_size) if group is not None else (0, 1)
    digest = hashlib.sha256(f"charmodels long-text dropout {config.seed} {rank} {world} {step}".encode()).digest()
    torch.manual_seed(int.from_bytes(digest[:8], "little"))


def _train(model, optimizer, run: Run, corpus, split: Split, streams: Streams, config, checkpoint_path, on_step, group, rows) -> LongHistory:
    lead = group is None or group.lead  # alone, or rank 0: validates, reports, writes
    history = LongHistory(resumed_from=run.resumed_from)
    session_start, session_steps = time.perf_counter(), 0
    elapsed_before = run.elapsed
    chars_per_step = config.batch_size * config.seq_len
    last_val = run.val[-1][1] if run.val else None
    stop = {"reason": ""}

    def windows(step: int) -> Window:
        index = step % streams.windows
        inputs, targets = streams.window(index)
        if group is not None:  # this process's streams
            inputs, targets = inputs[rows], targets[rows]
        return Window(inputs, targets, carry=index != 0)  # a new epoch starts every stream from zeros

    def stepped(s: Stepped) -> bool:
        nonlocal session_steps, last_val
        run.step, run.carry = s.step, s.state
        session_steps += 1
        run.losses.add(s.step, round(s.loss, 5))
        run.recent = (run.recent + [s.loss])[-RECENT:]
        evaluated = lead and bool(config.eval_every) and s.step % config.eval_every == 0
        if evaluated:
            last_val = held_out_bpc(model, split.val)
            run.val.append((s.step, round(last_val, 5)))
        session_seconds = time.perf_counter() - session_start
        run.elapsed = elapsed_before + session_seconds
        saved = checkpoint_path is not None and bool(config.checkpoint_every) and s.step % config.checkpoint_every == 0
        if saved:
            _fill(history, run, streams, session_steps * chars_per_step / session_seconds)
            _save(model, optimizer, run, corpus, split, config, checkpoint_path, history, group)
        if lead:
            report(s, evaluated, saved, session_seconds)
        if group is not None:  # rank 0's clock sets everyone's learning rate, its decision stops everyone
            code, run.elapsed = distributed.from_lead([STOPS.index(stop["reason"]), run.elapsed], group)
            stop["reason"] = STOPS[int(code)]
        return not stop["reason"]

    def report(s: Stepped, evaluated: bool, saved: bool, session_seconds: float) -> None:
        rate = session_steps / session_seconds if session_seconds > 0 else 0.0
        etas = []
        if config.max_steps and rate:
            etas.append((config.max_steps - s.step) / rate)
        if config.time_limit:
            etas.append(max(0.0, config.time_limit - run.elapsed))
        progress = LongProgress(
            step=s.step,
            max_steps=config.max_steps,
            epoch=s.step / streams.windows,
            loss=s.loss,
            recent_loss=sum(run.recent) / len(run.recent),
            val_bpc=last_val,
            evaluated=evaluated,
            saved=saved,
            lr=s.lr,
            chars_per_s=session_steps * chars_per_step / session_seconds if session_seconds > 0 else 0.0,
            elapsed=run.elapsed,
            eta=min(etas) if etas else None,
        )
        if on_step is not None and on_step(progress) is False:
            stop["reason"] = "stopped"
        elif config.time_limit and run.elapsed >= config.time_limit:
            stop["reason"] = "time_limit"

    loop = Loop(
        max_steps=config.max_steps or 2**62,
        clip=config.clip,
        schedule=lambda step: lr_at(config, step, run.elapsed),
        dropout=config.dropout,
        precision=config.precision,
    )
    if not (config.time_limit and run.elapsed >= config.time_limit):
        ddp = distributed.wrap(model, group) if group is not None else None
        fitted = fit(model, optimizer, windows, loop, step=run.step, state=run.carry, on_step=stepped, ddp=ddp)
        history.reason = stop["reason"] or fitted.reason
        history.diverged_at = fitted.diverged_at
    else:
        history.reason = "time_limit"
    history.stopped = history.reason == "stopped"
    session_seconds = time.perf_counter() - session_start
    run.elapsed = elapsed_before + session_seconds
    if lead and (not run.val or run.val[-1][0] != run.step):
        run.val.append((run.step, round(held_out_bpc(model, split.val), 5)))
    _fill(history, run, streams, session_steps * chars_per_step / session_seconds if session_seconds > 0 else 0.0)
    if checkpoint_path is not None:
        _save(model, optimizer, run, corpus, split, config, checkpoint_path, history, group)
    if group is not None:
        distributed.barrier(group)  # every process returns once the files are written
    return history


def _fill(history: LongHistory, run: Run, streams: Streams, chars_per_s: float) -> None:
    history.steps = run.step
    history.epochs = run.step / streams.windows
    history.seconds = run.elapsed
    history.chars_per_s = chars_per_s
    history.train_loss = sum(run.recent) / len(run.recent) if run.recent else math.nan
    history.val_bpc = run.val[-1][1] if run.val else math.nan
    history.loss = run.losses.result()
    history.val = list(run.val)


def _metadata(model: CharModel, run: Run, corpus: Corpus, split: Split, config: LongTextConfig, history: LongHistory, group) -> dict:
    """What a long-text checkpoint says about its training."""
    val_step, val_bpc = run.val[-1] if run.val else (None, None)
    world = run.world_sizes[-1]
    return {
        "corpus": corpus_record(corpus),
        "train_config": config.to_dict(),
        "training": "long-text",
        "validation": {
            "bpc": val_bpc,  # on the held-out part, measured at `step`
            "step": val_step,
            "fraction": config.val_fraction,
            "chars": len(split.val),
            "train_chars": len(split.train),
        },
        "parameters": model.num_parameters(),
        "history": history.to_dict(),
        "distributed": {  # how many processes trained it (this session; each session in `world_sizes`)
            "world_size": world,
            "global_batch": config.batch_size,
            "batch_per_process": config.batch_size // world,
            "backend": group.backend if group is not None else None,
            "world_sizes": list(run.world_sizes),
        },
    }


def _save(model, optimizer, run: Run, corpus: Corpus, split: Split, config: LongTextConfig, checkpoint_path, history: LongHistory, group) -> None:
    """The model as a normal checkpoint, and the training state (weights included) beside it.

    Under several processes every process takes part (its carried state and random state
    are gathered, and the replicas' weights must agree); rank 0 writes."""
    carry, rng = run.carry, _rng_state(model.head.weight.device)
    if group is not None:
        if carry is not None:  # (layers, share, hidden) from each process -> (layers, batch, hidden), streams in order
            carry = tuple(torch.cat(distributed.gather(part, group), dim=1) for part in carry)
        rng = {_rank_key(name, rank): state for name, tensor in rng.items() for rank, state in enumerate(distributed.gather(tensor, group))}
        digest = tensor_digest({k: v.detach().cpu() for k, v in model.state_dict().items()})
        if not distributed.agree(digest.encode(), group):
            raise RuntimeError("the processes' copies of the model differ: DDP replicas must stay identical (a bug; please report it)")
        if not group.lead:
            return
    path = Path(checkpoint_path)
    save_checkpoint(model, path, **_metadata(model, run, corpus, split, config, history, group))
    _save_state(state_path(path), model, optimizer, run, corpus, config, carry, rng)


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's random-number state: the CPU's, and the GPU's it trains on."""
    rng = {"rng.torch": torch.get_rng_state()}
    if device.type == "cuda":
        rng["rng.cuda"] = torch.cuda.get_rng_state(device)
    return rng


def _rank_key(name: str, rank: int) -> str:
    """Rank 0's random state keeps the single-process name ("rng.torch"); rank r's is "rng.torch.rank<r>"."""
    return name if rank == 0 else f"{name}.rank{rank}"


# ---- the training state ---------------------------------------------------------------------


def _save_state(
    path: Path, model: CharModel, optimizer: torch.optim.Optimizer, run: Run, corpus: Corpus, config: LongTextConfig, carry: State | None, rng: dict[str, torch.Tensor]
) -> Path:
    """Weights, optimizer state, step, data position, carried state (all streams) and RNG (every process's), as one training-state file."""
    tensors: dict[str, torch.Tensor] = dict(rng)
    for i, part in enumerate(carry or ()):
        tensors[f"carry.{i}"] = part
    weights = {name: t.detach() for name, t in model.state_dict().items()}
    for name, tensor in weights.items():
        tensors[f"model.{name}"] = tensor
    saved = optimizer.state_dict()
    extra: dict[str, dict[str, Any]] = {}  # non-tensor optimizer state entries, as JSON
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                extra.setdefault(str(index), {})[key] = value
    tensors = {name: t.detach().contiguous().cpu().clone() for name, t in tensors.items()}
    header = {
        "step": run.step,
        "elapsed": run.elapsed,
        "carry_parts": len(carry or ()),
        "config": config.to_dict(),
        "model_config": model.config.to_dict(),
        "vocab": model.vocab.chars,
        "corpus_sha256": corpus.sha256,
        "model_sha256": tensor_digest({k: v.cpu() for k, v in weights.items()}),
        "optimizer_param_groups": saved["param_groups"],
        "optimizer_extra": extra,
        "losses": run.losses.to_dict(),
        "val": run.val,
        "recent": run.recent,
        "resumed_from": run.resumed_from,
        "world_size": run.world_sizes[-1],  # the processes whose random states it holds
        "world_sizes": run.world_sizes,
    }
    return save_train_state(path, tensors, header)


def saved_config(meta: dict[str, Any]) -> LongTextConfig:
    """The config a training state was saved with (fields it predates at their old values)."""
    return LongTextConfig(**{**ADDED_FIELDS, **meta["config"]})


def _resume(checkpoint_path: Path, corpus: Corpus, vocab: Vocab, model_config: ModelConfig, config: LongTextConfig, device: torch.device, group, rows: slice):
    source = state_path(checkpoint_path)
    tensors, meta = read_train_state(source)
    if meta["corpus_sha256"] != corpus.sha256:
        raise ValueError(f"{source}: this run was trained on another text (sha256 {meta['corpus_sha256'][:12]}…, this one {corpus.sha256[:12]}…)")
    if meta["model_config"] != model_config.to_dict():
        raise ValueError(f"{source}: the run's model is {meta['model_config']}, not {model_config.to_dict()}")
    problems = resume_changes(saved_config(meta), config)
    if problems:
        raise ValueError(f"{source}: a resumed run keeps its recipe and schedule, but these differ: {'; '.join(problems)}")
    weights = {name[len("model."):]: t for name, t in tensors.items() if name.startswith("model.")}
    if weights:  # version 2: the state carries its own weights
        model = CharModel(model_config, vocab)
        model.load_state_dict(weights, strict=True)
        if tensor_digest(weights) != meta["model_sha256"]:
            raise CheckpointError(source, "tensors_corrupted")
    else:  # version 1: the weights are the checkpoint's, which must be the one saved with this state
        model = load_checkpoint(checkpoint_path)
        if model.info["tensor_sha256"] != meta["model_sha256"]:
            raise ValueError(f"{checkpoint_path}: the checkpoint and its training state (step {meta['step']}) were not saved together; cannot resume exactly")
    if model.vocab != vocab:
        raise ValueError(f"{checkpoint_path}: the run's vocabulary is not this text's")
    model = model.to(device)
    optimizer = OPTIMIZERS[config.optimizer].build(model.parameters(), config.lr, config.weight_decay)
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = tensor
    for index, entries in meta["optimizer_extra"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in saved.items()} for saved in meta["optimizer_param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    rank, world = (group.rank, group.world_size) if group is not None else (0, 1)
    if meta.get("world_size", 1) == world:  # each process continues its own random numbers
        torch.set_rng_state(tensors[_rank_key("rng.torch", rank)])
        if _rank_key("rng.cuda", rank) in tensors and device.type == "cuda":
            torch.cuda.set_rng_state(tensors[_rank_key("rng.cuda", rank)], device)
    else:  # the masks of N processes cannot be split among M: new streams, the same for the same resume
        _own_stream(config, group, meta["step"])
    run = Run(step=meta["step"], elapsed=meta["elapsed"], val=[tuple(p) for p in meta["val"]], recent=meta["recent"])
    # the carried state of every stream; this process continues its own
    run.carry = tuple(tensors[f"carry.{i}"][:, rows].to(device) for i in range(meta["carry_parts"])) or None
    run.losses = Thinning.from_dict(CURVE_POINTS, meta["losses"])
    run.resumed_from = meta["resumed_from"] + [meta["step"]]
    run.world_sizes = meta.get("world_sizes", [1] * len(run.resumed_from))  # states before it: one process
    return model, optimizer, run
