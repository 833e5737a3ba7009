"""Self-describing safetensors checkpoints: tensors plus JSON metadata, never pickle.

A file holds the model's state dict and, under ``__metadata__``, JSON strings for the
format, the model config, the vocabulary, the corpus, the training config, the final
metrics, the versions, the training history and a SHA-256 of the tensor bytes
(safetensors itself has no checksum). Loading checks all of it and raises one error
type, `CheckpointError` (a code, its parameters, and the file), for anything wrong:
damaged bytes, a pickle, metadata, or tensors that are not exactly the model's (names,
shapes, float32, finite values). Saving refuses weights that are not finite.

The vocabulary is stored in the model's order (a character's id is its position), which
need not be sorted: charmodels' own models sort it, course code often does not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import stat
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import safetensors
import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from .corpora import Corpus
from .errors import CharmodelsError, CheckpointError
from .model import CharModel, ModelConfig
from .vocab import Vocab, describe_char

if os.name == "posix":
    import fcntl

FORMAT = "charmodels"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
HF_PREFIX = "hf://"
MAX_BYTES = 2 * 1024**3  # a checkpoint of this project is kilobytes to megabytes
# Every pickle of protocol 2+ starts with 0x80; torch.save's default format is a zip archive.
# Used only to explain a file safetensors refused.
PICKLE_SIGNATURES = {b"\x80": "pickle", b"PK\x03\x04": "torch_zip"}  # signature -> error code
REQUIRED = ("format", "format_version", "model_config", "vocab", "tensor_sha256")
# A SHA-256 of every other metadata string: tensor_sha256 guards the tensors only, and one flipped
# bit in the vocabulary (["p"] -> ["q"]) or the config still parses. Optional, so files written
# before it existed still load (unguarded); every file saved now carries it.
METADATA_SHA256 = "metadata_sha256"
# What a trained model's `info` carries that save_checkpoint writes unless told otherwise
INFO_KEYS = ("corpus", "train_config", "history", "metrics", "parameters")
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
    record = model.info.get("corpus")
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return None
    return Corpus(str(record.get("name", "text")), record["text"], str(record.get("source", "")), bool(record.get("lines")))


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
        # reshape(-1): a 0-dim tensor cannot be viewed as bytes; for every other shape the bytes are the same
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def metadata_digest(strings: dict[str, str]) -> str:
    """SHA-256 over the metadata strings (all but metadata_sha256 itself), as sorted, ASCII-escaped JSON."""
    rest = {key: value for key, value in strings.items() if key != METADATA_SHA256}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode("ascii")).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Corpus):
        return corpus_record(value)  # its sha256 and size, and the text only when small
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else dataclasses.asdict(value)
    return value


def weights_to_save(model: CharModel) -> dict[str, torch.Tensor]:
    """The model's tensors as a checkpoint holds them: float32 on the CPU, every value finite;
    CharmodelsError ("tensor_dtype", "not_finite") naming the first tensor that is not."""
    tensors = {}
    for name, tensor in model.state_dict().items():
        if tensor.dtype != torch.float32:
            raise CharmodelsError("tensor_dtype", tensor=name, got=str(tensor.dtype).removeprefix("torch."))
        if not bool(torch.isfinite(tensor).all()):
            raise CharmodelsError("not_finite", tensor=name)
        tensors[name] = tensor.detach().contiguous().cpu().clone()
    return tensors


def save_checkpoint(model: CharModel, path: str | os.PathLike, **metadata: Any) -> Path:
    """Write `model` and `metadata` (JSON-able values, config dataclasses or a Corpus) to `path`.

    What `model.info` says under INFO_KEYS (a trained model's corpus, training config, history
    and metrics) is saved too, unless a keyword gives it: a model saved with no keywords still
    carries what `python -m charmodels eval` needs. A keyword given as None leaves that entry
    out. Weights that are not float32 or not finite are refused (CharmodelsError), so a
    diverged model never becomes a file.

    Written to a temporary file in the same folder, then renamed over `path`: an
    interrupted save never leaves a half-written checkpoint behind.
    """
    path = Path(path)
    tensors = weights_to_save(model)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "vocab": model.vocab.chars,
        "tensor_sha256": tensor_digest(tensors),
        "versions": {"charmodels": _version(), "torch": torch.__version__},
    }
    info = getattr(model, "info", None) or {}
    defaults = {key: info[key] for key in INFO_KEYS if key in info}
    defaults.setdefault("parameters", model.num_parameters())
    for key, value in {**defaults, **metadata}.items():
        if key in header or key == METADATA_SHA256:
            raise CharmodelsError("metadata_reserved", key=key)
        if value is not None:
            header[key] = _jsonable(value)
    strings = {}
    for key, value in header.items():
        try:
            strings[key] = json.dumps(value, ensure_ascii=False)
            strings[key].encode("utf-8")  # a lone surrogate ("\ud800") has no UTF-8: safetensors could not write it
        except (TypeError, ValueError) as error:  # ValueError: a value that contains itself, a lone surrogate
            raise CharmodelsError("metadata_not_json", key=key, detail=str(error)) from error
    strings[METADATA_SHA256] = json.dumps(metadata_digest(strings))
    return write_atomically(path, save_tensors(tensors, metadata=strings))


# ---- atomic writes, and the temporary files of writers that were killed ----

# A writer's temporary file is named `.{target}.pid{PID}.{random}.tmp` and held under an exclusive
# flock while it is written and renamed. The kernel drops the lock when the writer dies, even by
# SIGKILL, so the next write into the folder can tell a dead writer's leftover from a live one's.
TEMP_NAME = re.compile(r"^\..+\.pid(\d+)\.[^.]+\.tmp$")
CAN_CLEAN = os.name == "posix"  # flock and a signal-0 liveness probe (os.kill(pid, 0) would kill on Windows)


def write_atomically(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename: a reader (or a run killed
    mid-write) sees the old file or the new one, never half of one. First removes what writers
    killed earlier left in the folder (`remove_stale_temporaries`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            _hold(out.fileno())  # until the file is renamed and closed
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
            if CAN_CLEAN:
                os.replace(tmp, path)
        if not CAN_CLEAN:
            os.replace(tmp, path)  # Windows renames no open file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _hold(descriptor: int) -> None:
    """Lock a new temporary file as its writer's. Best effort: on a file system without flock the
    writer still writes, and cleaners, unable to take the lock either, leave its file alone."""
    if CAN_CLEAN:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a brand-new file: nobody else holds it
        except OSError:
            pass


def _sync_folder(folder: Path) -> None:
    """Make the rename itself survive a power cut (POSIX); best effort."""
    if not CAN_CLEAN:
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files in `folder` whose writer has died; return what was deleted.

    A file is deleted only when both say its writer is gone: the PID in its name names no
    running process, and its flock can be taken. A live writer keeps the file: while it writes,
    its PID runs (this covers the instant between creating the file and locking it) and it holds
    the lock (this covers a writer whose PID this process cannot see, in another PID namespace).
    A dead writer whose PID was reused keeps its file until that process ends too.
    """
    if not CAN_CLEAN:
        return []
    try:
        entries = [entry for entry in os.scandir(folder) if TEMP_NAME.match(entry.name)]
    except OSError:
        return []
    removed = []
    for entry in entries:
        pid = int(TEMP_NAME.match(entry.name)[1])
        if pid == os.getpid() or _running(pid):
            continue
        try:
            descriptor = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # gone already (another cleaner), or not ours to open
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(entry.path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # locked: its writer lives; no flock on this file system; or it vanished meanwhile
            pass
        finally:
            os.close(descriptor)
    return removed


def _running(pid: int) -> bool:
    """Whether a process with this PID exists (in doubt: yes, so that nothing live is deleted)."""
    if not 0 < pid < 2**31:
        return True  # 0 would probe our own process group; no real PID is that large
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


def parse_safetensors(path: Path | str, data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the raw (still JSON-encoded) metadata strings of safetensors bytes;
    CheckpointError naming a pickle or a damaged file."""
    try:
        tensors = load_tensors(data)
    except (safetensors.SafetensorError, ValueError) as error:
        # only now ask whether it is a pickle: a safetensors header length may start with 0x80 too
        for signature, code in PICKLE_SIGNATURES.items():
            if data.startswith(signature):
                raise CheckpointError(path, code) from error
        raise CheckpointError(path, "not_safetensors", detail=str(error)) from error
    header_len = int.from_bytes(data[:8], "little")
    return tensors, json.loads(data[8 : 8 + header_len]).get("__metadata__") or {}


def _version() -> str:
    from . import __version__

    return __version__


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def resolve(path_or_name: str | os.PathLike) -> Path:
    """A path, a folder saved by save_pretrained (its model.safetensors), a shipped name such as
    ``goethe-lstm``, or a Hub file: ``hf://owner/repo`` (the repo's model.safetensors),
    ``hf://owner/repo/folder`` (that folder's) or ``hf://owner/repo/file.safetensors``."""
    text = str(path_or_name)
    if text.startswith(HF_PREFIX):
        repo, filename = hub_location(text)
        return hub_file(repo, filename, source=text)
    path = Path(text)
    if _is_dir(path) and _exists(path / HUB_MODEL_FILE):
        return path / HUB_MODEL_FILE
    if _exists(path) or path.suffix == SUFFIX or os.sep in text or "/" in text:
        return path
    shipped = checkpoints_dir() / f"{text}{SUFFIX}"
    if _exists(shipped):
        return shipped
    raise CheckpointError(text, "no_such_checkpoint", choices=", ".join(shipped_names()) or "-")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


# ---- the Hugging Face Hub: files fetched through huggingface_hub's own cache ----

# The weights' name in a Hub model repo, as huggingface_hub's PyTorchModelHubMixin writes it
# (constants.SAFETENSORS_SINGLE_FILE); charmodels.hub saves a charmodels checkpoint under it.
HUB_MODEL_FILE = "model.safetensors"


def hub_location(url: str) -> tuple[str, str]:
    """``hf://owner/repo[/path]`` -> (repo id, file in the repo); a path that is not a
    .safetensors file is a folder holding model.safetensors. CheckpointError ("hub_name")
    for anything else, before any network."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    parts = url[len(HF_PREFIX) :].split("/")
    if len(parts) < 2 or not all(parts):
        raise CheckpointError(url, "hub_name")
    repo, inside = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        validate_repo_id(repo)
    except HFValidationError:
        raise CheckpointError(url, "hub_name") from None
    if not inside.endswith(SUFFIX):
        inside = f"{inside}/{HUB_MODEL_FILE}" if inside else HUB_MODEL_FILE
    return repo, inside


def hub_file(repo: str, filename: str, revision: str | None = None, source: str | None = None) -> Path:
    """One file of a Hub model repo, through huggingface_hub's cache: the cached copy when there
    is one (no network), else downloaded. Fails fast with CheckpointError naming `source`:
    offline and not cached ("hub_offline", at once), no network ("hub_unreachable", within
    a few seconds), or anything the Hub answers ("hub_failed")."""
    from huggingface_hub import (  # imported here: only Hub users pay for it
        constants,
        hf_hub_download,
    )

    source = source or f"{HF_PREFIX}{repo}/{filename}"
    try:  # a cached copy needs no network
        return Path(hf_hub_download(repo, filename, revision=revision, local_files_only=True))
    except Exception:
        pass
    if constants.HF_HUB_OFFLINE:
        raise CheckpointError(source, "hub_offline")
    # huggingface_hub retries an unreachable Hub for about 25 s; a quick probe answers at once
    if not reachable(constants.ENDPOINT):
        raise CheckpointError(source, "hub_unreachable", endpoint=constants.ENDPOINT)
    try:
        return Path(hf_hub_download(repo, filename, revision=revision, etag_timeout=10))
    except Exception as error:  # missing repo or file, network: all one message
        raise CheckpointError(source, "hub_failed", detail=f"{type(error).__name__}: {error}") from error


def reachable(endpoint: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the endpoint's host opens within `timeout` seconds."""
    from urllib.parse import urlparse

    address = urlparse(endpoint)
    port = address.port or (443 if address.scheme == "https" else 80)
    try:
        with socket.create_connection((address.hostname, port), timeout=timeout):
            return True
    except (OSError, ValueError):  # ValueError: an endpoint without a host
        return False


# ---- reading: every check a file must pass before it becomes a model ----


def read_metadata(path_or_name: str | os.PathLike) -> dict[str, Any]:
    """The checked metadata of a checkpoint, decoded from JSON, without building a model."""
    path = resolve(path_or_name)
    _, meta, raw = _read(path)
    model_spec(path, meta)
    _check_metadata_digest(path, raw)
    return meta


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, str]]:
    try:
        status = path.stat()
    except FileNotFoundError:
        raise CheckpointError(path, "file_not_found") from None
    except (OSError, ValueError) as error:
        raise CheckpointError(path, "file_unreadable", detail=getattr(error, "strerror", None) or str(error)) from None
    if not stat.S_ISREG(status.st_mode):
        raise CheckpointError(path, "not_a_file")
    if status.st_size == 0:
        raise CheckpointError(path, "file_empty")
    if status.st_size > MAX_BYTES:
        raise CheckpointError(path, "checkpoint_too_large", size=status.st_size)
    try:
        data = path.read_bytes()  # into memory, never memory-mapped: the file may be replaced later
    except OSError as error:
        raise CheckpointError(path, "file_unreadable", detail=error.strerror or str(error)) from None
    tensors, raw = parse_safetensors(path, data)
    if raw.get("format") != json.dumps(FORMAT):
        raise CheckpointError(path, "not_charmodels")
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise CheckpointError(path, "metadata_missing", keys=", ".join(missing))
    meta = decode_metadata(path, raw)
    version = meta["format_version"]
    if type(version) is not int or version != FORMAT_VERSION:  # not True, not 1.0
        raise CheckpointError(path, "format_version", got=_quoted(version), supported=FORMAT_VERSION)
    for name, tensor in sorted(tensors.items()):
        if tensor.dtype != torch.float32:
            raise CheckpointError(path, "tensor_dtype", tensor=_quoted(name), got=str(tensor.dtype).removeprefix("torch."))
    if tensor_digest(tensors) != meta["tensor_sha256"]:
        raise CheckpointError(path, "tensors_corrupted")
    _check_entries(path, meta)
    return tensors, meta, raw


def decode_metadata(path: Path | str, raw: dict[str, str]) -> dict[str, Any]:
    """Each metadata string decoded from JSON; CheckpointError ("metadata_json") naming the first that is not JSON."""
    meta = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value)
        except (ValueError, RecursionError):  # ValueError: bad JSON or an int of 5,000 digits
            raise CheckpointError(path, "metadata_json", key=_quoted(key)) from None
    return meta


# The optional entries charmodels writes, as JSON types, so that whoever reads model.info (the
# CLI, the app's model card) meets the types it expects: {entry: (type, {field: type})}.
ENTRIES: dict[str, tuple[str, dict[str, str]]] = {
    "versions": ("object", {}),
    "corpus": ("object", {"name": "string", "source": "string", "sha256": "string", "text": "string", "lines": "boolean", "chars": "integer"}),
    "train_config": ("object", {}),
    "metrics": ("object", {"tf_acc": "number", "recon": "number", "bpc": "number", "min_p": "number"}),
    "history": ("object", {"steps": "integer", "attempts": "integer", "seconds": "number", "restarts": "array of integers",
                           "loss": "array of [number, number] pairs", "snapshots": "array of [number, string] pairs"}),
    "validation": ("object", {"fraction": "number"}),
    "parameters": ("integer", {}),
}
_NUMBER = (int, float)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _is_pairs(value: Any, second: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and _is_number(pair[0]) and second(pair[1]) for pair in value
    )


JSON_TYPES = {
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": _is_number,
    "array of integers": lambda value: isinstance(value, list) and all(type(item) is int for item in value),
    "array of [number, number] pairs": lambda value: _is_pairs(value, _is_number),
    "array of [number, string] pairs": lambda value: _is_pairs(value, lambda item: isinstance(item, str)),
}


def _check_entries(path: Path, meta: dict[str, Any]) -> None:
    for key, (kind, fields) in ENTRIES.items():
        if key not in meta:
            continue
        if not JSON_TYPES[kind](meta[key]):
            raise CheckpointError(path, "metadata_entry", where=key, expected=kind)
        for field, field_kind in fields.items():
            if field in meta[key] and not JSON_TYPES[field_kind](meta[key][field]):
                raise CheckpointError(path, "metadata_entry", where=f"{key}.{field}", expected=field_kind)


def model_spec(path: Path | str, meta: dict[str, Any]) -> tuple[ModelConfig, Vocab]:
    """The model config and vocabulary a checkpoint's metadata describes; CheckpointError if either is invalid.

    A vocabulary may list its characters in any order (the order is the ids), each once.
    """
    config_fields = meta["model_config"]
    if not isinstance(config_fields, dict):
        raise CheckpointError(path, "bad_config", detail=f"a JSON object is needed, got {_kind(config_fields)}")
    try:
        config = ModelConfig(**config_fields)
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, "bad_config", detail=str(error)) from error
    chars = meta["vocab"]
    if not isinstance(chars, list):
        raise CheckpointError(path, "vocab_not_list", got=_kind(chars))
    if not chars:
        raise CheckpointError(path, "vocab_none")
    for index, char in enumerate(chars):
        if not isinstance(char, str) or len(char) != 1:
            raise CheckpointError(path, "vocab_entry", index=index, got=_quoted(char))
    repeated = [char for char, count in Counter(chars).items() if count > 1]
    if repeated:
        raise CheckpointError(path, "vocab_repeated", shown=", ".join(describe_char(char) for char in repeated[:5]))
    try:
        vocab = Vocab(chars)
    except CharmodelsError as error:  # a rule of Vocab's own that the checks above do not know
        raise CheckpointError(path, error.code, **error.params) from error
    return config, vocab


def _check_tensors(path: Path, tensors: dict[str, torch.Tensor], config: ModelConfig, vocab: Vocab) -> None:
    """The file's tensors are exactly the model's: the same names and shapes, every value finite."""
    with torch.device("meta"):  # shapes only: a tiny file claiming a huge config must not allocate it
        skeleton = CharModel(config, vocab)
    expected = {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}
    if expected.keys() != tensors.keys():
        extra, absent = sorted(tensors.keys() - expected.keys()), sorted(expected.keys() - tensors.keys())
        raise CheckpointError(path, "tensor_names", missing=_listed(absent), unexpected=_listed(extra))
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise CheckpointError(path, "tensor_shape", tensor=name, got=str(tuple(tensors[name].shape)), expected=str(shape))
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(path, "not_finite", tensor=name)


def _check_metadata_digest(path: Path, raw: dict[str, str]) -> None:
    """Checked last, so that a more specific problem (shapes, vocabulary) is the one named."""
    if METADATA_SHA256 in raw and raw[METADATA_SHA256] != json.dumps(metadata_digest(raw)):
        raise CheckpointError(path, "metadata_corrupted")


def _quoted(value: Any) -> str:
    """A value from a file as a message quotes it: repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _kind(value: Any) -> str:
    """The JSON type of a decoded value, as a message names it."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _listed(names: list[str], most: int = 5) -> str:
    """Tensor names for a message: the first few, each quoted, or '-' for none."""
    if not names:
        return "-"
    shown_names = ", ".join(_quoted(name) for name in names[:most])
    return shown_names + (f", … ({len(names)})" if len(names) > most else "")


def as_model(model_or_name: CharModel | str | os.PathLike) -> CharModel:
    """A model as given, or loaded from a checkpoint name or path (`goethe-lstm`); any other
    value is refused with a message saying what to pass."""
    if isinstance(model_or_name, CharModel):
        return model_or_name
    if isinstance(model_or_name, (str, os.PathLike)):
        return load_checkpoint(model_or_name)
    raise CharmodelsError("model_expected", got=type(model_or_name).__name__, name="goethe-lstm")


def load_checkpoint(path_or_name: str | os.PathLike) -> CharModel:
    """Load a checkpoint as a ready model; its metadata is in ``model.info``.

    `path_or_name` is a shipped name (``goethe-lstm``), a ``.safetensors`` path, a folder
    holding ``model.safetensors`` (as save_pretrained writes it), or a Hugging Face Hub
    name: ``hf://owner/repo`` or ``hf://owner/repo/file.safetensors``.

    Every problem with the file, whatever it is, raises CheckpointError (code and parameters
    in `.code` / `.params`, the sentence without the path in `.problem`).
    """
    path = resolve(path_or_name)
    tensors, meta, raw = _read(path)
    config, vocab = model_spec(path, meta)
    _check_tensors(path, tensors, config, vocab)
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
    stem = path.name.removesuffix(SUFFIX)
    return path.with_name(stem + STATE_SUFFIX)


def save_train_state(path: str | os.PathLike, tensors: dict[str, torch.Tensor], header: dict[str, Any]) -> Path:
    """Tensors and JSON-able `header` fields as a training-state file, written atomically."""
    strings = {key: json.dumps(value) for key, value in {"format": STATE_FORMAT, "format_version": STATE_VERSION, **header}.items()}
    return write_atomically(Path(path), save_tensors(tensors, metadata=strings))


def read_train_state(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and the decoded JSON metadata of a training-state file; CheckpointError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no_train_state")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CheckpointError(path, "file_unreadable", detail=error.strerror or str(error)) from None
    tensors, raw = parse_safetensors(path, data)
    meta = decode_metadata(path, raw)
    if meta.get("format") != STATE_FORMAT:
        raise CheckpointError(path, "not_train_state")
    if meta.get("format_version") != STATE_VERSION:
        raise CheckpointError(path, "train_state_version", got=_quoted(meta.get("format_version")), supported=STATE_VERSION)
    return tensors, meta
