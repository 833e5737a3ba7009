"""The recipe behind every shipped checkpoint: train to the bar, measure, save with
everything a reader needs to know where the model came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import SUFFIX, save_checkpoint
from .corpora import Corpus
from .metrics import Metrics, evaluate
from .model import CharModel, ModelConfig
from .training import History, Progress, TrainConfig, train

EMBED_TEXT_UP_TO = 100_000  # characters: a corpus this small travels inside its checkpoint


def corpus_record(corpus: Corpus) -> dict:
    """What a checkpoint says about its corpus; the text itself when it is small."""
    record = {
        "name": corpus.name,
        "source": corpus.source,
        "sha256": corpus.sha256,
        "lines": corpus.lines,
        "chars": len(corpus.text),
    }
    if len(corpus.text) <= EMBED_TEXT_UP_TO:
        record["text"] = corpus.text
    return record


def corpus_of(model: CharModel) -> Corpus | None:
    """The corpus a loaded checkpoint was trained on, when its text travels with it."""
    record = model.info.get("corpus") or {}
    if "text" not in record:
        return None
    return Corpus(record["name"], record["text"], record.get("source", ""), bool(record.get("lines")))


@dataclass(frozen=True)
class Trained:
    path: Path
    model: CharModel
    metrics: Metrics
    history: History


def checkpoint_name(corpus: Corpus, config: ModelConfig) -> str:
    return f"{corpus.name}-{config.cell}"


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
    )
    return Trained(path, model, metrics, history)
