"""Self-describing safetensors checkpoints: tensors plus JSON metadata, never pickle.

A file holds the model's state dict and, under ``__metadata__``, JSON strings for the
format, the model config, the vocabulary, the corpus, the training config, the final
metrics, the versions, the training history and a SHA-256 of the tensor bytes
(safetensors itself has no checksum). Loading checks all of it and raises one error
type, `CheckpointError`, naming the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any

import safetensors
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from .corpora import Corpus
from .errors import CharmodelsError, CheckpointError
from .model import CharModel, ModelConfig
from .vocab import Vocab

FORMAT = "charmodels"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
HF_PREFIX = "hf://"
MAX_BYTES = 2 * 1024**3  # a checkpoint of this project is kilobytes to megabytes
# Every pickle of protocol 2+ starts with 0x80; torch.save's default format is a zip archive.
# Used only to explain a file safetensors refused.
PICKLE_SIGNATURES = {b"\x80": "a Python pickle", b"PK\x03\x04": "a torch.save zip archive (pickles inside)"}
REQUIRED = ("format", "format_version", "model_config", "vocab", "tensor_sha256")
# A SHA-256 of every other metadata string: tensor_sha256 guards the tensors only, and one flipped
# bit in the vocabulary (["p"] -> ["q"]) or the config still parses. Optional, so files written
# before it existed still load (unguarded); every file saved now carries it.
METADATA_SHA256 = "metadata_sha256"
EMBED_TEXT_UP_TO = 100_000  # characters: a corpus this small travels inside its checkpoint


# ---- names and corpus records: what a checkpoint is called and says about its text ----

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


def checkpoint_name(corpus: Corpus, config: ModelConfig) -> str:
    """`<corpus>-<cell>`: the name a trained model is saved and served under."""
    return f"{corpus.name}-{config.cell}"



def checkpoints_dir() -> Path:
    """The shipped checkpoints: $CHARMODELS_CHECKPOINTS, else checkpoints/ beside the package."""
    override = os.environ.get("CHARMODELS_CHECKPOINTS")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "checkpoints"


def shipped_names() -> list[str]:
    folder = checkpoints_dir()
    return sorted(p.name[: -len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def metadata_digest(strings: dict[str, str]) -> str:
    """SHA-256 over the metadata strings (all but metadata_sha256 itself), as sorted, ASCII-escaped JSON."""
    rest = {key: value for key, value in strings.items() if key != METADATA_SHA256}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode("ascii")).hexdigest()


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else dataclasses.asdict(value)
    return value


def save_checkpoint(model: CharModel, path: str | os.PathLike, **metadata: Any) -> Path:
    """Write `model` and `metadata` (JSON-able values or config dataclasses) to `path`.

    Written to a temporary file in the same folder, then renamed over `path`: an
    interrupted save never leaves a half-written checkpoint behind.
    """
    path = Path(path)
    tensors = {name: t.detach().contiguous().cpu().clone() for name, t in model.state_dict().items()}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "vocab": model.vocab.chars,
        "tensor_sha256": tensor_digest(tensors),
        "versions": {"charmodels": _version(), "torch": torch.__version__},
    }
    for key, value in metadata.items():
        if key in header or key == METADATA_SHA256:
            raise ValueError(f"metadata key {key!r} is reserved for the checkpoint format")
        header[key] = _jsonable(value)
    try:
        strings = {key: json.dumps(value, ensure_ascii=False) for key, value in header.items()}
    except TypeError as error:
        raise ValueError(f"checkpoint metadata must be JSON-serialisable: {error}") from error
    strings[METADATA_SHA256] = json.dumps(metadata_digest(strings))
    return write_atomically(path, save_tensors(tensors, metadata=strings))


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename: a reader (or a run killed
    mid-write) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def parse_safetensors(path: Path, data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the raw (still JSON-encoded) metadata strings of safetensors bytes;
    CheckpointError naming a pickle or a damaged file."""
    try:
        tensors = load_tensors(data)
    except (safetensors.SafetensorError, ValueError) as error:
        # only now ask whether it is a pickle: a safetensors header length may start with 0x80 too
        for signature, kind in PICKLE_SIGNATURES.items():
            if data.startswith(signature):
                raise CheckpointError(path, f"this is {kind}, not safetensors; charmodels never loads pickles") from error
        raise CheckpointError(path, f"not a readable safetensors file (truncated or damaged?): {error}") from error
    header_len = int.from_bytes(data[:8], "little")
    return tensors, json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}


def _version() -> str:
    from . import __version__

    return __version__


def resolve(path_or_name: str | os.PathLike) -> Path:
    """A path, a shipped name such as ``goethe-lstm``, or ``hf://owner/repo/file.safetensors``."""
    text = str(path_or_name)
    if text.startswith(HF_PREFIX):
        return _download(text)
    path = Path(text)
    if path.exists() or path.suffix == SUFFIX or os.sep in text or "/" in text:
        return path
    shipped = checkpoints_dir() / f"{text}{SUFFIX}"
    if shipped.exists():
        return shipped
    names = ", ".join(shipped_names()) or "none found"
    raise CheckpointError(text, f"no such checkpoint file or shipped name (shipped: {names})")


def _download(url: str) -> Path:
    parts = url[len(HF_PREFIX) :].split("/")
    if len(parts) < 3 or not all(parts):
        raise CheckpointError(url, "a Hub checkpoint is named hf://owner/repo/file.safetensors")
    from huggingface_hub import constants, hf_hub_download  # imported here: only Hub users pay for it

    repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        return Path(hf_hub_download(repo, filename, local_files_only=True))  # a cached copy needs no network
    except Exception:
        pass
    if constants.HF_HUB_OFFLINE:
        raise CheckpointError(url, "offline mode (HF_HUB_OFFLINE=1) and not in the local Hugging Face cache")
    # huggingface_hub retries an unreachable Hub for about 25 s; a quick probe answers at once
    if not _reachable(constants.ENDPOINT):
        raise CheckpointError(url, f"the Hugging Face Hub ({constants.ENDPOINT}) cannot be reached: no network?")
    try:
        return Path(hf_hub_download(repo, filename, etag_timeout=10))
    except Exception as error:  # missing repo or file, network: all one message
        raise CheckpointError(url, f"could not fetch it from the Hugging Face Hub ({type(error).__name__}: {error})") from error


def _reachable(endpoint: str, timeout: float = 3.0) -> bool:
    from urllib.parse import urlparse

    address = urlparse(endpoint)
    port = address.port or (443 if address.scheme == "https" else 80)
    try:
        with socket.create_connection((address.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_metadata(path_or_name: str | os.PathLike) -> dict[str, Any]:
    """The checked metadata of a checkpoint, decoded from JSON, without building a model."""
    path = resolve(path_or_name)
    _, meta, raw = _read(path)
    _check_metadata_digest(path, raw)
    return meta


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, str]]:
    if not path.exists():
        raise CheckpointError(path, "file not found")
    if not path.is_file():
        raise CheckpointError(path, "not a file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(path, "the file is empty")
    if size > MAX_BYTES:
        raise CheckpointError(path, f"the file is {size:,} bytes, far more than any charmodels checkpoint")
    # read into memory, never memory-mapped: the file may be replaced later
    tensors, raw = parse_safetensors(path, path.read_bytes())
    if raw.get("format") != json.dumps(FORMAT):
        raise CheckpointError(path, "a safetensors file, but not a charmodels checkpoint (no charmodels format tag)")
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise CheckpointError(path, f"metadata is missing: {', '.join(missing)}")
    try:
        meta = {key: json.loads(value) for key, value in raw.items()}
    except json.JSONDecodeError as error:
        raise CheckpointError(path, f"metadata is not valid JSON: {error}") from error
    if meta["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            path, f"format version {meta['format_version']!r} is not supported (this charmodels reads {FORMAT_VERSION})"
        )
    if tensor_digest(tensors) != meta["tensor_sha256"]:
        raise CheckpointError(path, "tensor data does not match its recorded SHA-256: the file is corrupted")
    return tensors, meta, raw


def _check_metadata_digest(path: Path, raw: dict[str, str]) -> None:
    """Checked last, so that a more specific problem (shapes, vocabulary) is the one named."""
    if METADATA_SHA256 in raw and raw[METADATA_SHA256] != json.dumps(metadata_digest(raw)):
        raise CheckpointError(path, "metadata does not match its recorded SHA-256: the file is corrupted")


def as_model(model_or_name: CharModel | str | os.PathLike) -> CharModel:
    """A model as given, or loaded from a checkpoint name or path (`goethe-lstm`); any other
    value is refused with a message saying what to pass."""
    if isinstance(model_or_name, CharModel):
        return model_or_name
    if isinstance(model_or_name, (str, os.PathLike)):
        return load_checkpoint(model_or_name)
    raise CharmodelsError("model_expected", got=type(model_or_name).__name__, name="goethe-lstm")


def load_checkpoint(path_or_name: str | os.PathLike) -> CharModel:
    """Load a checkpoint as a ready model; its metadata is in ``model.info``."""
    path = resolve(path_or_name)
    tensors, meta, raw = _read(path)
    try:
        config = ModelConfig(**meta["model_config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, f"invalid model config: {error}") from error
    try:
        vocab = Vocab(meta["vocab"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, f"invalid vocabulary: {error}") from error
    if vocab.chars != meta["vocab"]:
        raise CheckpointError(path, "invalid vocabulary: it must list each character once, in sorted order")
    with torch.device("meta"):  # shapes only: a tiny file claiming a huge config must not allocate it
        skeleton = CharModel(config, vocab)
    expected = {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in tensors.items()}
    if expected.keys() != found.keys():
        extra, absent = sorted(found.keys() - expected.keys()), sorted(expected.keys() - found.keys())
        raise CheckpointError(path, f"tensors do not match the config (missing: {absent or '-'}, unexpected: {extra or '-'})")
    for name, shape in expected.items():
        if found[name] != shape:
            raise CheckpointError(path, f"tensor {name} has shape {found[name]}, the config needs {shape}")
    _check_metadata_digest(path, raw)
    model = CharModel(config, vocab)  # now as large as the file's own tensors, no larger
    model.load_state_dict(tensors, strict=True)
    model.eval()
    model.info = {**meta, "path": str(path)}
    return model

# ---- training states: what a long run needs to continue exactly, beside its checkpoint ----

STATE_SUFFIX = ".train-state.safetensors"
STATE_FORMAT = "charmodels-train-state"
STATE_VERSION = 1


def state_path(checkpoint_path: str | os.PathLike) -> Path:
    """`runs/x-lstm.safetensors` -> `runs/x-lstm.train-state.safetensors`."""
    path = Path(checkpoint_path)
    stem = path.name[: -len(SUFFIX)] if path.name.endswith(SUFFIX) else path.name
    return path.with_name(stem + STATE_SUFFIX)


def save_train_state(path: str | os.PathLike, tensors: dict[str, torch.Tensor], header: dict[str, Any]) -> Path:
    """Tensors and JSON-able `header` fields as a training-state file, written atomically."""
    strings = {key: json.dumps(value) for key, value in {"format": STATE_FORMAT, "format_version": STATE_VERSION, **header}.items()}
    return write_atomically(Path(path), save_tensors(tensors, metadata=strings))


def read_train_state(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the decoded JSON metadata of a training-state file; CheckpointError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no training state here: was the run saved with a checkpoint path?")
    tensors, raw = parse_safetensors(path, path.read_bytes())
    try:
        meta = {key: json.loads(value) for key, value in raw.items()}
    except json.JSONDecodeError as error:
        raise CheckpointError(path, f"metadata is not valid JSON: {error}") from error
    if meta.get("format") != STATE_FORMAT:
        raise CheckpointError(path, "a safetensors file, but not a charmodels training state")
    if meta.get("format_version") != STATE_VERSION:
        raise CheckpointError(path, f"training-state version {meta.get('format_version')!r} is not supported (this reads {STATE_VERSION})")
    return tensors, meta
