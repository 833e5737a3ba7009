"""charmodels: character-level RNN, LSTM and GRU language models you can look inside.

Names are imported on first use (PEP 562), so `from charmodels.corpora import CORPORA`
or the app's first page does not wait for torch to load.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "CharmodelsError": "errors",
    "CheckpointError": "errors",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "CORPORA": "corpora",
    "Corpus": "corpora",
    "corpus_from_text": "corpora",
    "Metrics": "metrics",
    "evaluate": "metrics",
    "CELLS": "model",
    "CharModel": "model",
    "ModelConfig": "model",
    "Step": "sampling",
    "generate": "sampling",
    "next_char_probs": "sampling",
    "from_torch": "interop",
    "to_torch": "interop",
    "History": "training",
    "Progress": "training",
    "TrainConfig": "training",
    "train": "training",
    "UnknownCharacterError": "vocab",
    "Vocab": "vocab",
    "GradientFlow": "gradflow",
    "compare_flow": "gradflow",
    "gradient_flow": "gradflow",
    "Surprise": "surprise",
    "surprisal": "surprise",
    "Recital": "recital",
    "mark_recited": "recital",
    "sample_and_mark": "recital",
    "ContextNeed": "course",
    "context_needed": "course",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'charmodels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
