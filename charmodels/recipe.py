"""The recipe behind every shipped checkpoint: train to the bar, measure, save with
everything a reader needs to know where the model came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import SUFFIX, checkpoint_name, corpus_record, save_checkpoint
from .corpora import Corpus
from .metrics import Metrics, evaluate
from .model import CharModel, ModelConfig
from .training import History, Progress, TrainConfig, train


@dataclass(frozen=True)
class Trained:
    path: Path
    model: CharModel
    metrics: Metrics
    history: History


def train_to_checkpoint(
    corpus: Corpus,
    model_config: ModelConfig,
    train_config: TrainConfig,
    out_dir: str | Path,
    on_step: Callable[[Progress], bool | None] | None = None,
) -> Trained:
    model, history = train(corpus, model_config, train_config, on_step)
    metrics = evaluate(model, corpus)
    path = Path(out_dir) / f"{checkpoint_name(corpus, model_config)}{SUFFIX}"
    save_checkpoint(
        model,
        path,
        corpus=corpus_record(corpus),
        train_config=train_config,
        metrics=metrics,
        parameters=model.num_parameters(),
        history=history,
        trained_on=machine(),
    )
    return Trained(path, model, metrics, history)


def machine() -> dict:
    """What decides a retrained model's bits besides the recipe: the torch build, its CPU kernels
    (AVX2, AVX-512, ...) and the threads. The same three give the same tensors, bit for bit."""
    return {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}
