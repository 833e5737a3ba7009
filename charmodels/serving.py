"""The app's model registry: checkpoints by name, each loaded once per process and shared
read-only by every session.

A model is asked for by a shipped name (`goethe-lstm`), by the key an upload was given
(`upload-<sha256 prefix>`), or as `hf://owner/repo/file.safetensors`; never by a path of
the server. Uploads are bounded in size and in number, the oldest dropped first.

Nothing here keeps per-user state and nothing here is worded for a page: problems are
`CharmodelsError`s (code and parameters) that the app translates. torch is imported on
first use, so the page can read `MAX_UPLOAD_BYTES` before the models load.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from .checks import shown, text
from .errors import CharmodelsError, CheckpointError

if TYPE_CHECKING:
    from .model import CharModel

UPLOAD_PREFIX = "upload-"
# A checkpoint of this project is kilobytes to a few megabytes (train.py's long-text model,
# 256 x 2 LSTM, is about 3.5 MB); 32 MiB leaves room for a much larger one of your own.
MAX_UPLOAD_BYTES = 32 * 1024**2
MAX_UPLOADS = 128  # uploaded or trained models kept in memory (a class of 40, each with a few), oldest dropped first ...
MAX_UPLOADED_BYTES = 256 * 1024**2  # ... and never more than this many bytes of them

_models: OrderedDict[str, CharModel] = OrderedDict()
_upload_sizes: dict[str, int] = {}  # key -> file size, for the uploads in _models
_lock = threading.Lock()


def shipped() -> list[str]:
    """The names of the checkpoints that come with the package (`goethe-lstm`, ...)."""
    from .checkpoint import shipped_names

    return shipped_names()


TINY_MARK = "-h"  # a tiny model is its standard model's name and its size: hihello-rnn-h2 (scripts/train_tiny.py)


def tiny_sizes(checkpoint: str) -> dict[int, str]:
    """The tiny models shipped beside a standard one, by hidden size: `hihello-rnn` ->
    {2: "hihello-rnn-h2", 4: ..., 8: ...}; empty for a model without tiny versions."""
    base = checkpoint.split(TINY_MARK)[0] if isinstance(checkpoint, str) else ""
    found = {}
    for name in shipped():
        size = name[len(base) + len(TINY_MARK):] if name.startswith(base + TINY_MARK) else ""
        if size.isdigit():
            found[int(size)] = name
    return dict(sorted(found.items()))


def is_upload(key: str) -> bool:
    return isinstance(key, str) and key.startswith(UPLOAD_PREFIX)


def get_model(checkpoint: str) -> CharModel:
    """A shipped name (`goethe-lstm`), an upload key, or `hf://owner/repo/file.safetensors`.

    Raises CharmodelsError: `not_text`, `unknown_checkpoint`, `upload_gone`, or a
    CheckpointError for a Hub file that cannot be had.
    """
    from .checkpoint import HF_PREFIX, load_checkpoint

    key = text("checkpoint", "" if checkpoint is None else checkpoint).strip()  # JSON can send a number
    with _lock:
        if key in _models:
            return _models[key]
    if key.startswith(HF_PREFIX) or key in shipped():
        model = load_checkpoint(key)  # outside the lock: a slow download must not stall other users
        with _lock:
            return _models.setdefault(key, model)  # a concurrent load of the same key: keep one
    if is_upload(key):
        raise CharmodelsError("upload_gone")
    raise CharmodelsError("unknown_checkpoint", got=shown(key), choices=", ".join(shipped()))


def register_upload(path: str | Path) -> str:
    """Check an uploaded checkpoint file and keep its model; returns the key to use it by.

    Raises CheckpointError: `upload_too_large` for a file over MAX_UPLOAD_BYTES (before
    reading it), or whatever `load_checkpoint` finds wrong with it.
    """
    from .checkpoint import load_checkpoint

    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    if size > MAX_UPLOAD_BYTES:
        raise CheckpointError(path, "upload_too_large", size=size, limit=MAX_UPLOAD_BYTES)
    model = load_checkpoint(path)  # raises CheckpointError naming the problem
    key = f"{UPLOAD_PREFIX}{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    with _lock:
        _models[key] = model
        _models.move_to_end(key)
        _upload_sizes[key] = size
        uploads = [k for k in _models if is_upload(k)]  # oldest first
        while len(uploads) > 1 and (len(uploads) > MAX_UPLOADS or sum(_upload_sizes[k] for k in uploads) > MAX_UPLOADED_BYTES):
            oldest = uploads.pop(0)
            del _models[oldest], _upload_sizes[oldest]
    return key


def forget(key: str) -> None:
    """Drop an uploaded model from memory (a no-op for other keys)."""
    with _lock:
        if is_upload(key) and key in _models:
            del _models[key], _upload_sizes[key]
