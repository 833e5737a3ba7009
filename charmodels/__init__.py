"""charmodels: character-level RNN, LSTM and GRU language models you can look inside."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .corpora import CORPORA, Corpus, corpus_from_text
from .metrics import Metrics, evaluate
from .model import CELLS, CharModel, ModelConfig
from .sampling import Step, generate, next_char_probs
from .training import History, Progress, TrainConfig, train
from .vocab import UnknownCharacterError, Vocab

__version__ = "0.1.0"

__all__ = [
    "CELLS",
    "CORPORA",
    "CharModel",
    "CheckpointError",
    "Corpus",
    "History",
    "Metrics",
    "ModelConfig",
    "Progress",
    "Step",
    "TrainConfig",
    "UnknownCharacterError",
    "Vocab",
    "corpus_from_text",
    "evaluate",
    "generate",
    "load_checkpoint",
    "next_char_probs",
    "save_checkpoint",
    "train",
]
