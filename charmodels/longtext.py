"""Training on long texts (megabytes): mini-batches of truncated backpropagation through time.

`train()` in training.py reads a tiny corpus as one sequence until the model recites it.
A long text cannot be read that way; here it is learned the way char-rnn does it:

- **Split.** The last `val_fraction` of the text is held out for validation; the model
  never trains on it. The vocabulary comes from the whole text, so validation never
  meets an unknown character. The transition from the last training character to the
  first held-out one belongs to neither part.
- **Streams.** The training part is cut into `batch_size` parallel streams of equal
  length (at most `batch_size - 1` characters at its very end are left out). Step k
  reads window k mod W of every stream: `seq_len` consecutive characters, the targets
  the same characters shifted by one. The hidden state at the end of a window is carried
  into the next window of the same stream, detached from the graph (truncated BPTT), so
  the model sees context longer than `seq_len`; it starts from zeros at every epoch.
- **Validation bpc** over every character of the held-out part (each predicted once,
  except its first): the part is cut into `EVAL_STREAMS` streams read `EVAL_CHUNK`
  characters at a time with the state carried, each stream first reading the
  `EVAL_WARMUP` characters before it uncounted, so a fresh state costs nothing.
- **Dropout** (`dropout`) only while training, where char-rnn puts it: between stacked
  layers and before the head. The checkpoint is the plain model.
- **Regularisation**: dropout as above and weight decay (`weight_decay`; Adam's decoupled,
  as AdamW). On Tiny Shakespeare both lower the held-out bpc within ten minutes.
- **Learning rate** constant, then from `decay_start` of the run (by steps or by time,
  whichever is further along) linearly down to 0 at the limit.
- **Precision.** With `precision="bf16"` (the default where the CPU has native bfloat16)
  the training forward passes run under bfloat16 autocast; weights, gradients, optimizer
  state, checkpoints and validation stay fp32.
- **Memory** stays bounded: the text is encoded once as int32 ids; one-hot vectors exist
  for one batch at a time.
- **Resume.** Every `checkpoint_every` steps the model goes to a normal charmodels
  checkpoint and everything else a run needs to continue to `<name>.train-state.safetensors`
  beside it: optimizer state tensors, step, data position, the carried hidden state and
  the torch RNG state that dropout draws from (safetensors and JSON, never pickle). A run stopped and resumed
  ends with the same weights, bit for bit, as one that never stopped (on CPU, same
  threads; a time-limited run's learning-rate schedule follows the clock, so only a
  step-limited run is reproducible).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from .checkpoint import load_checkpoint, read_train_state, save_checkpoint, save_train_state, state_path, tensor_digest
from .corpora import Corpus
from .data import Split, Streams, encode_ids, split_text
from .metrics import held_out_bpc
from .errors import CheckpointError
from .model import CharModel, ModelConfig, State
from .training import _Thinning
from .vocab import Vocab

RECENT = 100  # steps the reported training loss is averaged over
CURVE_POINTS = 400  # loss-curve points kept in a history

# The optimizers a run may name, called with (parameters, lr, weight_decay). Adam's weight
# decay is decoupled (AdamW; with 0 it is plain Adam); the others add it to the gradient.
# RMSprop as char-rnn runs it (decay_rate 0.95, epsilon 1e-8).
OPTIMIZERS: dict[str, Callable[[Any, float, float], torch.optim.Optimizer]] = {
    "adam": lambda params, lr, decay: torch.optim.AdamW(params, lr=lr, weight_decay=decay),
    "rmsprop": lambda params, lr, decay: torch.optim.RMSprop(params, lr=lr, alpha=0.95, eps=1e-8, weight_decay=decay),
    "sgd": lambda params, lr, decay: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=decay),
}



def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX). Only there does
    bf16 autocast pay: on this machine's 2 cores it trains the 2 x 256 LSTM 1.5-2x faster,
    reaching the same validation bpc per step; elsewhere bf16 is emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


DEFAULT_PRECISION = "bf16" if native_bf16() else "fp32"

# Recipe fields added after version 1 of the training state, with the values runs saved
# before them trained with, so such a run resumes as it began.
ADDED_FIELDS = {"precision": "fp32", "weight_decay": 0.0}

# Fields of LongTextConfig a resumed run may change; every other field is its recipe.
LIMIT_FIELDS = ("max_steps", "time_limit", "eval_every", "checkpoint_every", "device")

# The model of the long-text recipe below (train.py's default in long-text mode), chosen on
# Tiny Shakespeare for ten minutes on one CPU core (bench/shakespeare.py). What was measured:
# - On a CPU, small batches cost about as much per character as large ones, so many small
#   steps beat few big ones: 2 x 128 at batch 64, seq 100 reached 2.66 validation bpc in
#   120 s (979 steps), at batch 16, seq 50 2.36 (7,865 steps).
# - Without dropout every size overfits within the ten minutes of a quiet machine: 2 x 192
#   (batch 16, Adam) was best at 2.30 after 6 epochs and ended at 2.50 after 23; char-rnn's
#   recipe best at 2.32 after 9 epochs, ended at 2.55 after 47.
# - With dropout 0.25, in 300 s side by side: 2 x 256 2.21 (6,915 steps, still falling),
#   2 x 384 2.33 (2,933 steps: too slow for the budget).
# - 600 s, one thread each, two runs side by side, bf16 autocast: 2 x 256 with dropout 0.25
#   2.18; dropout 0.15 2.25, 0.4 2.24; 2 x 320 with 0.25 2.20, with 0.4 2.22; batch 32 at
#   lr 4e-3 2.21; seq 100 2.20. fp32 instead of bf16 2.20 (fewer steps, the same curve).
#   Alone with both cores and bf16: 2.16 after 27,018 steps (20 epochs). Every run's
#   validation bpc levels off near 2.2 after 6-8 epochs while its training loss falls.
# - Weight decay 0.1 (AdamW) on top, 600 s, one thread, side by side: 2.12 against 2.16
#   without (weights averaged over the last steps: 2.12 and 2.16 too, so not kept).
LONG_MODEL = ModelConfig(cell="lstm", hidden_size=256, layers=2, embedding_dim=0)


@dataclass(frozen=True)
class LongTextConfig:
    seq_len: int = 50  # characters per window: how far back gradients reach (truncated BPTT)
    batch_size: int = 16  # parallel streams, one window of each per step
    lr: float = 3e-3  # the optimizer's learning rate before the decay
    optimizer: str = "adam"  # one of OPTIMIZERS
    weight_decay: float = 0.1  # adam: decoupled (AdamW), pulling every weight toward 0 by lr x this per step
    decay_start: float = 0.6  # share of the run after which lr falls linearly to 0 (1.0 = constant)
    val_fraction: float = 0.05  # the last share of the text held out for validation
    eval_every: int = 1000  # steps between validation measurements (0 = only at the end)
    checkpoint_every: int = 1000  # steps between checkpoints + training state (0 = only at the end)
    max_steps: int = 0  # stop after this many steps in all (0 = no step limit)
    time_limit: float = 0.0  # stop after this many seconds of training in all (0 = no time limit)
    seed: int = 0  # seeds the initial weights
    clip: float = 5.0  # gradient-norm clipping
    dropout: float = 0.25  # while training only: between stacked layers and before the head (char-rnn's places)
    precision: str = DEFAULT_PRECISION  # "bf16": forward passes under bfloat16 autocast (weights, optimizer, validation stay fp32)
    device: str = "cpu"  # "cpu", or "cuda" / "cuda:N" when a GPU is present

    def __post_init__(self) -> None:
        def whole(value, low, high=10**12) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

        checks = [
            ("seq_len", whole(self.seq_len, 1, 100_000), "a whole number from 1 to 100,000"),
            ("batch_size", whole(self.batch_size, 1, 100_000), "a whole number from 1 to 100,000"),
            ("lr", isinstance(self.lr, (int, float)) and 0 < self.lr <= 10, "above 0 and at most 10"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"one of: {', '.join(OPTIMIZERS)}"),
            ("weight_decay", isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay <= 10, "from 0 to 10"),
            ("decay_start", isinstance(self.decay_start, (int, float)) and 0 <= self.decay_start <= 1, "from 0 to 1"),
            ("val_fraction", isinstance(self.val_fraction, (int, float)) and 0 < self.val_fraction <= 0.5, "above 0 and at most 0.5"),
            ("eval_every", whole(self.eval_every, 0), "a whole number, 0 or more"),
            ("checkpoint_every", whole(self.checkpoint_every, 0), "a whole number, 0 or more"),
            ("max_steps", whole(self.max_steps, 0), "a whole number, 0 or more"),
            ("time_limit", isinstance(self.time_limit, (int, float)) and 0 <= self.time_limit < math.inf, "seconds, 0 or more"),
            ("seed", whole(self.seed, 0), "a whole number, 0 or more"),
            ("clip", isinstance(self.clip, (int, float)) and self.clip > 0, "above 0"),
            ("dropout", isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1, "from 0 up to (not including) 1"),
            ("precision", self.precision in ("fp32", "bf16"), '"fp32" or "bf16"'),
            ("device", _device_name_ok(self.device), '"cpu", "cuda" or "cuda:N"'),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ValueError(f"LongTextConfig.{name} must be {expected}, got {getattr(self, name)!r}")
        if not self.max_steps and not self.time_limit:
            raise ValueError("a long-text run needs a limit: max_steps, time_limit or both")

    def to_dict(self) -> dict:
        return asdict(self)

    def recipe(self) -> dict:
        """The fields that decide the weights; a resumed run must keep them."""
        return {k: v for k, v in self.to_dict().items() if k not in LIMIT_FIELDS}


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


# ---- the data --------------------------------------------------------------------------




@dataclass(frozen=True)
class LongProgress:
    """What a caller sees after each step (train.py prints it)."""

    step: int  # steps taken in all, across resumes
    max_steps: int  # the step limit (0 = none)
    epoch: float  # passes over the training part
    loss: float  # this step's training loss, nats per character
    recent_loss: float  # the mean over the last RECENT steps
    val_bpc: float | None  # the latest validation bpc (None before the first)
    evaluated: bool  # validation was measured at this step
    saved: bool  # a checkpoint was written at this step
    lr: float  # the learning rate of this step
    chars_per_s: float  # characters trained per second of this session (evaluation included)
    elapsed: float  # seconds of training in all, across resumes
    eta: float | None  # seconds left until a limit, estimated


@dataclass
class LongHistory:
    steps: int = 0
    epochs: float = 0.0
    seconds: float = 0.0  # of training in all, across resumes
    chars_per_s: float = 0.0  # in the last session
    train_loss: float = math.nan  # nats, the mean over the last RECENT steps
    val_bpc: float = math.nan  # at the end
    stopped: bool = False  # the caller stopped it
    reason: str = ""  # why it ended: "max_steps", "time_limit" or "stopped"
    resumed_from: list[int] = field(default_factory=list)  # the step each resume continued from
    loss: list[tuple[int, float]] = field(default_factory=list)  # (step, loss in nats)
    val: list[tuple[int, float]] = field(default_factory=list)  # (step, validation bpc)

    def to_dict(self) -> dict:
        # attempts/restarts/snapshots: the keys the app's model card and replay read
        return {**asdict(self), "attempts": 1, "restarts": [], "snapshots": []}


@dataclass
class _Run:
    """Everything besides the model and the optimizer that a resumed run needs."""

    step: int = 0
    elapsed: float = 0.0
    carry: State | None = None  # the hidden state carried into the next window
    losses: _Thinning = field(default_factory=lambda: _Thinning(CURVE_POINTS))
    val: list[tuple[int, float]] = field(default_factory=list)
    recent: list[float] = field(default_factory=list)
    resumed_from: list[int] = field(default_factory=list)


def _lr_at(config: LongTextConfig, step: int, elapsed: float) -> float:
    """Constant until `decay_start` of the run (by steps or time, whichever is further), then linear to 0."""
    done = max(step / config.max_steps if config.max_steps else 0.0, elapsed / config.time_limit if config.time_limit else 0.0)
    if done <= config.decay_start or config.decay_start >= 1:
        return config.lr
    return config.lr * max(0.0, (1 - done) / (1 - config.decay_start))


# ---- training ------------------------------------------------------------------------------


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
    stops after the current step). `resume=True` continues from them; the recipe
    (config.recipe()) and the model config must be the ones the run started with.
    """
    corpus = text if isinstance(text, Corpus) else Corpus("text", text, "")
    device = resolve_device(config.device)
    if resume and checkpoint_path is None:
        raise ValueError("resuming needs the checkpoint path the run was saved to")
    split = split_text(corpus.text, config.val_fraction)
    streams = Streams(split.train, config.batch_size, config.seq_len)
    rng_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):  # the caller's RNG is left as it was
        if resume:
            model, optimizer, run = _resume(Path(checkpoint_path), corpus, split.vocab, model_config, config, device)
        else:
            torch.manual_seed(config.seed)
            model = CharModel(model_config, split.vocab).to(device)
            optimizer = OPTIMIZERS[config.optimizer](model.parameters(), config.lr, config.weight_decay)
            run = _Run()
        with _dropout(model, config.dropout):
            return _loop(model, optimizer, run, corpus, split, streams, config, device, checkpoint_path, on_step)


@contextmanager
def _dropout(model: CharModel, p: float):
    """Dropout in training mode only, where char-rnn puts it: on the input of every stacked
    layer but the first (nn.RNNBase's own `dropout`) and on the top layer's outputs before
    the head (a pre-hook on the head). Nothing of it is stored: the checkpoint is the plain
    model, and evaluation (model.eval()) never drops anything."""
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


def _loop(model, optimizer, run, corpus, split, streams, config, device, checkpoint_path, on_step):
    history = LongHistory(resumed_from=run.resumed_from)
    model.train()
    session_start, session_steps = time.perf_counter(), 0
    elapsed_before = run.elapsed
    chars_per_step = config.batch_size * config.seq_len
    last_val = run.val[-1][1] if run.val else None

    def limit_reached() -> str:
        if config.max_steps and run.step >= config.max_steps:
            return "max_steps"
        if config.time_limit and run.elapsed >= config.time_limit:
            return "time_limit"
        return ""

    while not (reason := limit_reached()):
        window = run.step % streams.windows
        if window == 0:
            run.carry = model.init_state(config.batch_size)  # a new epoch: streams start again from zeros
        inputs, targets = (t.to(device) for t in streams.window(window))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
            logits, state = model(inputs, run.carry)  # (batch, time, vocab)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        lr = _lr_at(config, run.step, run.elapsed)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        run.carry = tuple(s.detach().float() for s in state)  # truncated BPTT: keep the values, cut the graph
        run.step += 1
        session_steps += 1
        value = loss.item()
        run.losses.add(run.step, round(value, 5))
        run.recent = (run.recent + [value])[-RECENT:]
        evaluated = bool(config.eval_every) and run.step % config.eval_every == 0
        if evaluated:
            last_val = held_out_bpc(model, split.val)
            run.val.append((run.step, round(last_val, 5)))
        saved = checkpoint_path is not None and bool(config.checkpoint_every) and run.step % config.checkpoint_every == 0
        session_seconds = time.perf_counter() - session_start
        run.elapsed = elapsed_before + session_seconds
        if saved:
            _save(model, optimizer, run, corpus, split, streams, config, checkpoint_path, history, session_steps, session_seconds)
        rate = session_steps / session_seconds if session_seconds > 0 else 0.0
        etas = []
        if config.max_steps and rate:
            etas.append((config.max_steps - run.step) / rate)
        if config.time_limit:
            etas.append(max(0.0, config.time_limit - run.elapsed))
        progress = LongProgress(
            step=run.step,
            max_steps=config.max_steps,
            epoch=run.step / streams.windows,
            loss=value,
            recent_loss=sum(run.recent) / len(run.recent),
            val_bpc=last_val,
            evaluated=evaluated,
            saved=saved,
            lr=lr,
            chars_per_s=session_steps * chars_per_step / session_seconds if session_seconds > 0 else 0.0,
            elapsed=run.elapsed,
            eta=min(etas) if etas else None,
        )
        if on_step is not None and on_step(progress) is False:
            history.stopped, reason = True, "stopped"
            break
    session_seconds = time.perf_counter() - session_start
    run.elapsed = elapsed_before + session_seconds
    if not run.val or run.val[-1][0] != run.step:
        run.val.append((run.step, round(held_out_bpc(model, split.val), 5)))
    history.reason = reason
    _fill(history, run, streams, session_steps * chars_per_step / session_seconds if session_seconds > 0 else 0.0)
    if checkpoint_path is not None:
        _save(model, optimizer, run, corpus, split, streams, config, checkpoint_path, history, session_steps, session_seconds)
    model.eval()
    return model, history


def _fill(history: LongHistory, run: _Run, streams: Streams, chars_per_s: float) -> None:
    history.steps = run.step
    history.epochs = run.step / streams.windows
    history.seconds = run.elapsed
    history.chars_per_s = chars_per_s
    history.train_loss = sum(run.recent) / len(run.recent) if run.recent else math.nan
    history.val_bpc = run.val[-1][1] if run.val else math.nan
    history.loss = run.losses.result() if run.losses.points else []
    history.val = list(run.val)


def _save(model, optimizer, run, corpus, split, streams, config, checkpoint_path, history, session_steps, session_seconds):
    """The model as a normal checkpoint, then the training state beside it."""
    chars_per_s = session_steps * config.batch_size * config.seq_len / session_seconds if session_seconds > 0 else 0.0
    _fill(history, run, streams, chars_per_s)
    val_step, val_bpc = run.val[-1] if run.val else (None, None)
    path = Path(checkpoint_path)
    _save_state(state_path(path), model, optimizer, run, corpus, config)
    save_checkpoint(
        model,
        path,
        corpus={"name": corpus.name, "source": corpus.source, "sha256": corpus.sha256, "lines": False, "chars": len(corpus.text)},
        train_config=config,
        training="long-text",
        validation={
            "bpc": val_bpc,  # on the held-out part, measured at `step`
            "step": val_step,
            "fraction": config.val_fraction,
            "chars": len(split.val),
            "train_chars": len(split.train),
        },
        parameters=model.num_parameters(),
        history=history.to_dict(),
    )


# ---- the training state file ----------------------------------------------------------------


def _save_state(path: Path, model: CharModel, optimizer: torch.optim.Optimizer, run: _Run, corpus: Corpus, config: LongTextConfig) -> Path:
    """Optimizer state, step, data position, carried state and RNG, as a training-state file."""
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if config.device.startswith("cuda"):
        tensors["rng.cuda"] = torch.cuda.get_rng_state(torch.device(config.device))
    for i, part in enumerate(run.carry or ()):
        tensors[f"carry.{i}"] = part
    saved = optimizer.state_dict()
    extra: dict[str, dict[str, Any]] = {}  # non-tensor optimizer state entries, as JSON
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                extra.setdefault(str(index), {})[key] = value
    tensors = {name: t.detach().contiguous().cpu().clone() for name, t in tensors.items()}
    weights = {name: t.detach().cpu() for name, t in model.state_dict().items()}
    header = {
        "step": run.step,
        "elapsed": run.elapsed,
        "carry_parts": len(run.carry or ()),
        "config": config.to_dict(),
        "model_config": model.config.to_dict(),
        "corpus_sha256": corpus.sha256,
        "model_sha256": tensor_digest(weights),  # which checkpoint this state belongs to
        "optimizer_param_groups": saved["param_groups"],
        "optimizer_extra": extra,
        "losses": {"stride": run.losses.stride, "points": run.losses.points, "last": run.losses.last},
        "val": run.val,
        "recent": run.recent,
        "resumed_from": run.resumed_from,
    }
    return save_train_state(path, tensors, header)


def saved_config(meta: dict[str, Any]) -> LongTextConfig:
    """The config a training state was saved with (fields it predates at their old values)."""
    return LongTextConfig(**{**ADDED_FIELDS, **meta["config"]})


def _resume(checkpoint_path: Path, corpus: Corpus, vocab: Vocab, model_config: ModelConfig, config: LongTextConfig, device: torch.device):
    tensors, meta = read_train_state(state_path(checkpoint_path))
    source = state_path(checkpoint_path)
    if meta["corpus_sha256"] != corpus.sha256:
        raise ValueError(f"{source}: this run was trained on another text (sha256 {meta['corpus_sha256'][:12]}…, this one {corpus.sha256[:12]}…)")
    if meta["model_config"] != model_config.to_dict():
        raise ValueError(f"{source}: the run's model is {meta['model_config']}, not {model_config.to_dict()}")
    stored = saved_config(meta).recipe()
    changed = {k: (stored[k], v) for k, v in config.recipe().items() if stored[k] != v}
    if changed:
        listed = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise ValueError(f"{source}: a resumed run keeps its recipe, but these differ: {listed} (only {', '.join(LIMIT_FIELDS)} may change)")
    model = load_checkpoint(checkpoint_path)
    if model.info["tensor_sha256"] != meta["model_sha256"]:
        raise CheckpointError(
            checkpoint_path, f"the checkpoint and its training state (step {meta['step']}) were not saved together; cannot resume exactly"
        )
    if model.vocab != vocab:
        raise ValueError(f"{checkpoint_path}: the checkpoint's vocabulary is not this text's")
    model = model.to(device)
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), config.lr, config.weight_decay)
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = tensor
    for index, entries in meta["optimizer_extra"].items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in group.items()} for group in meta["optimizer_param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    run = _Run(step=meta["step"], elapsed=meta["elapsed"], val=[tuple(p) for p in meta["val"]], recent=meta["recent"])
    run.carry = tuple(tensors[f"carry.{i}"].to(device) for i in range(meta["carry_parts"])) or None
    losses = meta["losses"]
    run.losses.stride = losses["stride"]
    run.losses.points = [tuple(p) for p in losses["points"]]
    run.losses.last = tuple(losses["last"]) if losses["last"] else None
    run.resumed_from = meta["resumed_from"] + [meta["step"]]
    return model, optimizer, run
