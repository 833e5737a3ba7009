"""Hugging Face Hub conventions: save_pretrained, from_pretrained, push_to_hub, model cards.

A model folder (and a Hub model repo) has the layout of huggingface_hub's PyTorchModelHubMixin:

    model.safetensors  the charmodels checkpoint itself, metadata and SHA-256s included: what
                       load_checkpoint reads, and what ``hf://owner/repo`` loads from the Hub
    config.json        the model config and vocabulary, for people and tools browsing the repo
    README.md          the model card (huggingface_hub's ModelCard/ModelCardData): languages,
                       license, library, tags; the text and its source, the metrics, how to
                       load and sample, the loss curve
    loss.png           the loss curve the card shows (when the model has a training history)

Why CharModel does not inherit PyTorchModelHubMixin: the mixin rebuilds a model from
config.json as its ``__init__`` arguments, and ``CharModel(config, vocab)`` takes a Vocab; given a
dataclass ``config`` the mixin records that dataclass alone, so the vocabulary is lost unless
``_from_pretrained`` is replaced. Its ``_save_pretrained`` writes bare tensors (no vocabulary,
no hashes: not a checkpoint load_checkpoint accepts), its ``from_pretrained`` loads with
``strict=False`` by default (a missing weight would stay random) and prints, and its
``__new__``/``__init_subclass__`` would run under model.py, which holds no I/O and is built
on the meta device to check a file's shapes. Replacing all of that would keep the mixin's
name and none of its code, so the same layout is written here, strict, with charmodels'
own checks and errors.

Uploading (`push_to_hub`, `publish`) first writes the complete folder (default:
``hub/<repo name>`` in the current folder), then uploads it; with no network or no login the
error says where the folder is and the ``hf upload`` command that uploads it later.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from .checkpoint import (
    HF_PREFIX,
    HUB_MODEL_FILE,
    METADATA_SHA256,
    REQUIRED,
    SUFFIX,
    CheckpointError,
    corpus_of,
    hub_file,
    load_checkpoint,
    reachable,
    save_checkpoint,
    shipped_names,
    tensor_digest,
    write_atomically,
)
from .errors import CharmodelsError
from .metrics import evaluate
from .model import CharModel

MODEL_FILE = HUB_MODEL_FILE
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
LOSS_FILE = "loss.png"
FILES = (MODEL_FILE, CONFIG_FILE, CARD_FILE, LOSS_FILE)  # everything a folder holds; all that is uploaded
LIBRARY = "charmodels"
LICENSE = "mit"  # the project's license (README.md front matter), the default for its models
STAGING = Path("hub")  # where a repo's folder is written before its upload: hub/<repo name>
CELL_NAMES = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU"}
# Entries of a checkpoint that save_checkpoint writes itself, and the loader's own "path":
# everything else a loaded model's info says travels into the folder's model.safetensors.
WRITTEN_BY_SAVE = {*REQUIRED, "versions", METADATA_SHA256, "path"}
SHOWN_TEXT = 1_000  # characters of the training text a card quotes


# ---- names ----


def check_repo_id(repo_id: Any) -> str:
    """`repo_id` if it names a Hub repository as owner/name; CharmodelsError ("hub_repo_id")
    otherwise, before anything is trained, written or sent."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise CharmodelsError("hub_repo_id", got=repr(repo_id))
    try:
        validate_repo_id(repo_id)
    except HFValidationError:
        raise CharmodelsError("hub_repo_id", got=repr(repo_id)) from None
    return repo_id


def staging_folder(repo_id: str) -> Path:
    """hub/<repo name>: where a repo's folder is written before it is uploaded."""
    return STAGING / check_repo_id(repo_id).split("/")[1]


def published_repo_id(prefix: str, name: str) -> str:
    """The repo of a shipped model in the published set: ``alice/charmodels`` + ``goethe-lstm``
    -> ``alice/charmodels-goethe-lstm`` (one repo per model, as Hub users expect)."""
    return check_repo_id(f"{check_repo_id(prefix)}-{name}")


def published_names() -> list[str]:
    """The shipped models `publish` uploads (training states are not models)."""
    return [name for name in shipped_names() if not name.endswith(".train-state")]


def upload_command(repo_id: str, folder: str | os.PathLike) -> str:
    """The huggingface_hub CLI command that uploads a written folder to its repo."""
    return shlex.join(["hf", "upload", repo_id, str(folder), "."])


# ---- a model folder: save and load ----


def config_json(model: CharModel) -> dict[str, Any]:
    """config.json: the model config's fields, as the mixin writes a dataclass config, and the
    vocabulary in the model's order (a character's id is its position)."""
    return {**model.config.to_dict(), "vocab": list(model.vocab.chars)}


def save_pretrained(
    model: CharModel,
    folder: str | os.PathLike,
    *,
    repo_id: str | None = None,
    license: str = LICENSE,
    language: list[str] | None = None,
) -> Path:
    """Write `model` into `folder` in the Hugging Face layout; return the folder.

    model.safetensors is the charmodels checkpoint: the very file the model was loaded from when
    it still holds exactly this model, else a new save carrying what `model.info` says (and, for
    a model trained in Python that carries its text, its metrics measured on it). config.json is
    the config and vocabulary, README.md the model card, loss.png its loss curve.
    repo_id: named in the card's loading snippet (default: the folder's path).
    license: the card's license (default "mit", the project's).
    language: the card's languages (default: guessed from the text's script, en and/or ko).
    Files are written atomically; a README.md already there is replaced (the card follows the model).
    """
    folder = Path(folder)
    if repo_id is not None:
        check_repo_id(repo_id)
    info = _write_checkpoint(model, folder / MODEL_FILE)  # the card says exactly what the file says
    config = json.dumps(config_json(model), ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    write_atomically(folder / CONFIG_FILE, config.encode("utf-8"))
    image = loss_curve_png(info, title=_title(model, info))
    if image is None:
        (folder / LOSS_FILE).unlink(missing_ok=True)  # a stale curve of another model
    else:
        write_atomically(folder / LOSS_FILE, image)
    card = model_card(model, info, repo_id=repo_id or str(folder), license=license, language=language, image=image is not None)
    write_atomically(folder / CARD_FILE, str(card).encode("utf-8"))
    return folder


def _write_checkpoint(model: CharModel, path: Path) -> dict:
    """`model` as a checkpoint at `path`; its info as loaded back. A model loaded from a file that
    still holds exactly it (same tensors, same metadata) gets that file's bytes, so a published
    model.safetensors is the shipped checkpoint itself (safetensors orders metadata at random:
    a new save of the same model differs in bytes)."""
    source = model.info.get("path")
    if source:
        try:
            write_atomically(path, Path(source).read_bytes())
            copied = load_checkpoint(path).info
        except (OSError, CheckpointError):
            copied = None
        same = {k: v for k, v in model.info.items() if k != "path"} == {k: v for k, v in (copied or {}).items() if k != "path"}
        if copied is not None and same and copied["tensor_sha256"] == tensor_digest(model.state_dict()):
            return copied
    carried = {key: value for key, value in model.info.items() if key not in WRITTEN_BY_SAVE}
    corpus = corpus_of(model)
    if "metrics" not in carried and "validation" not in carried and corpus is not None:
        # a model trained in Python (train() records no metrics): measured on its own text, so
        # that the card has its metrics table and the file says the same
        try:
            carried["metrics"] = evaluate(model, corpus).to_dict()
        except CharmodelsError:  # a text the vocabulary cannot read: the card says it has no measurements
            pass
    save_checkpoint(model, path, **carried)
    return load_checkpoint(path).info


def from_pretrained(repo_or_folder: str | os.PathLike, *, revision: str | None = None) -> CharModel:
    """A model from a folder written by save_pretrained, or from a Hub repo ``owner/name``
    (or ``hf://owner/name``) through huggingface_hub's cache; a checkpoint file or a shipped
    name (``goethe-lstm``) is loaded as load_checkpoint loads it.

    Strict: model.safetensors passes every check of load_checkpoint (every tensor present, of
    its shape, finite, matching its SHA-256), and config.json must be there and agree with it.
    Offline (HF_HUB_OFFLINE=1) a repo loads from the cache or fails at once with CheckpointError.
    """
    text = str(repo_or_folder)
    repo = text[len(HF_PREFIX) :] if text.startswith(HF_PREFIX) else None
    if repo is None:
        path = Path(text)
        if _is_folder(path):
            weights, config = path / MODEL_FILE, path / CONFIG_FILE
            if not weights.is_file():
                raise CheckpointError(path, "pretrained_no_weights")
            return _load_folder(weights, config)
        if _exists(path) or path.suffix == SUFFIX or text.count("/") != 1:
            return load_checkpoint(text)  # a checkpoint file or a shipped name
        repo = text
    try:
        check_repo_id(repo)
    except CharmodelsError:
        raise CheckpointError(text, "hub_name") from None
    weights = hub_file(repo, MODEL_FILE, revision=revision, source=f"{HF_PREFIX}{repo}/{MODEL_FILE}")
    config = hub_file(repo, CONFIG_FILE, revision=revision, source=f"{HF_PREFIX}{repo}/{CONFIG_FILE}")
    return _load_folder(weights, config)


def _load_folder(weights: Path, config: Path) -> CharModel:
    model = load_checkpoint(weights)
    if not config.is_file():
        raise CheckpointError(config, "pretrained_no_config")
    try:
        written = json.loads(config.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CheckpointError(config, "pretrained_config", detail=str(error)) from None
    if not isinstance(written, dict):
        raise CheckpointError(config, "pretrained_config", detail=f"got {type(written).__name__}")
    expected = config_json(model)
    # keys of its own that a repo adds (e.g. by hand on the Hub) are left alone
    differing = [key for key in expected if written.get(key) != expected[key]]
    if differing:
        raise CheckpointError(config, "pretrained_config_mismatch", keys=", ".join(differing))
    return model


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_folder(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


# ---- uploading ----


def push_to_hub(
    model: CharModel,
    repo_id: str,
    *,
    folder: str | os.PathLike | None = None,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    license: str = LICENSE,
    language: list[str] | None = None,
) -> str:
    """Write `model`'s folder (default hub/<repo name>), then upload it to the Hub repo `repo_id`
    (created if needed; public unless `private`); return the commit's URL.

    The folder stays: what was uploaded is on disk, and a failed upload can be repeated with
    `hf upload`. Offline, logged out or without network this fails within seconds with a
    CharmodelsError saying so, where the folder is and the command that uploads it.
    """
    check_repo_id(repo_id)
    folder = Path(folder) if folder is not None else staging_folder(repo_id)
    save_pretrained(model, folder, repo_id=repo_id, license=license, language=language)
    message = commit_message or f"Upload {_title(model, model.info)} with charmodels"
    return upload_folder(folder, repo_id, private=private, token=token, commit_message=message)


def upload_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    commit_message: str = "Upload with charmodels",
) -> str:
    """Upload a written model folder (the files of FILES in it) to `repo_id`; the commit's URL.

    Checks first, without waiting on the network (`upload_token`); whatever the Hub then
    refuses is "hub_push_failed". Every error names the folder and the `hf upload` command
    that uploads it later.
    """
    where = {"repo": repo_id, "folder": str(folder), "command": upload_command(repo_id, folder)}
    return _upload(Path(folder), repo_id, upload_token(token, **where), private, commit_message)


def upload_token(token: str | None = None, **where: str) -> str:
    """The token an upload will use, once what can be known without the network says it can
    start: not offline ("hub_push_offline"), logged in ("hub_push_no_token"), the Hub's host
    answers ("hub_push_unreachable", within seconds). `where` (repo, folder, command) fills
    the message."""
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise CharmodelsError("hub_push_offline", **where)
    try:
        token = token or get_token()
    except Exception:  # a failed OIDC exchange (HF_OIDC_RESOURCE set): no usable token
        token = None
    if not token:
        raise CharmodelsError("hub_push_no_token", **where)
    if not reachable(constants.ENDPOINT):
        raise CharmodelsError("hub_push_unreachable", endpoint=constants.ENDPOINT, **where)
    return token


def _upload(folder: Path, repo_id: str, token: str, private: bool | None, commit_message: str) -> str:
    from huggingface_hub import HfApi

    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message, allow_patterns=list(FILES))
    except Exception as error:  # refused, unauthorized, a network that failed midway
        where = {"repo": repo_id, "folder": str(folder), "command": upload_command(repo_id, folder)}
        raise CharmodelsError("hub_push_failed", detail=f"{type(error).__name__}: {error}", **where) from error
    return str(commit.commit_url)


@dataclass(frozen=True)
class Published:
    """One model of the published set: its shipped name, its repo, its folder, and once
    uploaded the commit's URL."""

    name: str
    repo_id: str
    folder: Path
    url: str | None = None


def write_published(prefix: str, root: str | os.PathLike = STAGING, names: list[str] | None = None) -> Iterator[Published]:
    """Write the folder of each shipped model (all, or `names`) under `root`, one repo per model:
    ``<prefix>-<name>``, folder ``<root>/<repo name>``; yields each once it is complete."""
    check_repo_id(prefix)
    shipped = published_names()
    for name in names or []:  # every name checked before any folder is written
        if name not in shipped:
            raise CheckpointError(name, "no_such_checkpoint", choices=", ".join(shipped) or "-")
    for name in names if names is not None else shipped:
        repo_id = published_repo_id(prefix, name)
        folder = Path(root) / repo_id.split("/")[1]
        save_pretrained(load_checkpoint(name), folder, repo_id=repo_id)
        yield Published(name, repo_id, folder)


def publish(
    prefix: str,
    root: str | os.PathLike = STAGING,
    names: list[str] | None = None,
    *,
    private: bool | None = None,
    token: str | None = None,
) -> Iterator[tuple[str, Published]]:
    """The shipped models (all, or `names`) on the Hub, one model repo each (``<prefix>-<name>``):
    every folder is written under `root` first (yields ("written", item) for each), then each
    is uploaded (("uploaded", item) with its URL).

    One repo per model is what Hub users expect: ``from_pretrained("alice/charmodels-goethe-lstm")``
    and ``hf://`` name a repo, the Hub shows one card, one set of metrics and one download count
    per repo, and a Space's ``models:`` links each. Offline, logged out or without network,
    nothing is uploaded and the error gives one command that uploads every folder later.
    """
    written = []
    for item in write_published(prefix, root, names):
        written.append(item)
        yield "written", item
    if not written:
        return
    owner, name = prefix.split("/")
    if len(written) == 1:
        command = upload_command(written[0].repo_id, written[0].folder)
    else:
        models = " ".join(item.name for item in written) if names is not None else None
        folders = f"{shlex.quote(str(root))}/{name}-*/" if models is None else None
        command = (
            f'for folder in {folders}; do hf upload "{owner}/$(basename "$folder")" "$folder" .; done'
            if models is None
            else f"for model in {models}; do hf upload {owner}/{name}-$model {shlex.quote(str(root))}/{name}-$model .; done"
        )
    where = {"repo": f"{prefix}-<model> ({len(written)} repos)" if len(written) > 1 else written[0].repo_id}
    where.update(folder=str(root) if len(written) > 1 else str(written[0].folder), command=command)
    token = upload_token(token, **where)
    for item in written:
        url = _upload(item.folder, item.repo_id, token, private, f"Upload {item.name} with charmodels")
        yield "uploaded", Published(item.name, item.repo_id, item.folder, url)


# ---- the model card ----


def languages(text: str) -> list[str]:
    """The card's languages, guessed from the script: "ko" for Hangul, "en" for Latin letters.
    A guess: a French text is "en" too; pass `language=` to save_pretrained to say better."""
    found = []
    if any("a" <= char.lower() <= "z" for char in text):
        found.append("en")
    if any("\uac00" <= char <= "\ud7a3" or "\u1100" <= char <= "\u11ff" or "\u3130" <= char <= "\u318f" for char in text):
        found.append("ko")
    return found


def _title(model: CharModel, info: dict) -> str:
    corpus = info.get("corpus") or {}
    return f"{corpus.get('name', 'text')}-{model.config.cell}"


def _text_of(model: CharModel, info: dict) -> str:
    corpus = info.get("corpus") or {}
    return corpus["text"] if isinstance(corpus.get("text"), str) else "".join(model.vocab.chars)


def example(model: CharModel, info: dict) -> tuple[str, int, float]:
    """A prompt, a length and a temperature for the card's snippet: a text the model recites
    (its first character, or the first two words of its first line), or a long text's opening
    sampled at temperature 0.8."""
    from .corpora import Corpus

    corpus = info.get("corpus") or {}
    text = corpus.get("text") if isinstance(corpus.get("text"), str) else None
    if text is None or "validation" in info:
        start = (text or "")[:20] or next((c for c in model.vocab.chars if c.isalpha()), model.vocab.chars[0])
        return start, 200, 0.8
    read = Corpus("text", text, "", bool(corpus.get("lines")))
    first = read.sequences()[0]
    prime = read.prime_length(first)
    return first[:prime], min(len(first) - prime, 200), 0.0


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`."""
    run = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        run = max(run, current)
    return "`" * max(3, run + 1)


def model_card(
    model: CharModel,
    info: dict | None = None,
    *,
    repo_id: str = "path/to/folder",
    license: str = LICENSE,
    language: list[str] | None = None,
    image: bool = True,
):
    """The model card: a huggingface_hub ModelCard whose metadata is a ModelCardData."""
    from huggingface_hub import ModelCard, ModelCardData

    info = model.info if info is None else info
    cell = model.config.cell
    data = ModelCardData(
        language=language if language is not None else languages(_text_of(model, info)) or None,
        license=license,
        library_name=LIBRARY,
        tags=[LIBRARY, "character-level", cell, "recurrent-neural-network", "education"],
        pipeline_tag="text-generation",
    )
    body = "\n".join(_card_body(model, info, repo_id, image))
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")


def _card_body(model: CharModel, info: dict, repo_id: str, image: bool) -> Iterator[str]:
    config, corpus = model.config, info.get("corpus") or {}
    title, name = _title(model, info), corpus.get("name", "text")
    inputs = f"a learned embedding of size {config.embedding_dim}" if config.embedding_dim else f"one-hot input over its {len(model.vocab)} characters"
    layers = f"{config.layers} layer{'s' if config.layers > 1 else ''} of {config.hidden_size} units"
    yield f"# {title}"
    yield ""
    yield (
        f"A character-level {CELL_NAMES[config.cell]} language model ({layers}, {inputs}, "
        f"{model.num_parameters():,} parameters), trained with charmodels on the text `{name}`"
        + (f", from {corpus['source']}." if corpus.get("source") else ".")
    )
    yield "It reads one character at a time and gives the probability of every possible next character."
    yield ""
    if image:
        yield f"![Training loss of {title}]({LOSS_FILE})"
        yield ""
    yield from _text_section(corpus, info)
    yield from _metrics_section(info)
    yield from _usage_section(model, info, repo_id)
    yield from _training_section(info)


def _text_section(corpus: dict, info: dict) -> Iterator[str]:
    yield "## The text"
    yield ""
    if not corpus:
        yield "This model carries no record of a training text."
        yield ""
        return
    how = "as separate lines, each read from a fresh state and ended by a newline" if corpus.get("lines") else "as one sequence"
    chars = corpus.get("chars")
    yield (
        f"`{corpus.get('name')}`"
        + (f": {chars:,} characters" if isinstance(chars, int) else "")
        + f", read {how}"
        + (f"; SHA-256 `{corpus['sha256']}`." if corpus.get("sha256") else ".")
    )
    if corpus.get("source"):
        yield f"Source: {corpus['source']}."
    text = corpus.get("text")
    if isinstance(text, str):
        shown = text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT] + "…"
        fence = _fence(shown)
        yield ""
        yield f"{fence}text"
        yield shown
        yield fence
        if len(text) > SHOWN_TEXT:
            yield f"(the first {SHOWN_TEXT:,} characters; model.safetensors carries the whole text)"
    yield ""


def _metrics_section(info: dict) -> Iterator[str]:
    yield "## Metrics"
    yield ""
    metrics, validation = info.get("metrics"), info.get("validation")
    if isinstance(validation, dict) and isinstance(validation.get("bpc"), (int, float)):
        fraction, held = validation.get("fraction"), validation.get("chars")
        part = f"the last {fraction:.0%} of the text" if isinstance(fraction, (int, float)) else "a held-out part of the text"
        yield "| measure | value | what it measures |"
        yield "|---|---|---|"
        yield (
            f"| validation bpc | {validation['bpc']:.4f} | bits per character on {part}"
            + (f" ({held:,} characters)" if isinstance(held, int) else "")
            + ", held out from training (lower is better) |"
        )
        history = info.get("history") or {}
        if isinstance(history.get("train_loss"), (int, float)) and math.isfinite(history["train_loss"]):
            yield f"| training bpc | {history['train_loss'] / math.log(2):.4f} | bits per character on the training part, the mean of the last steps |"
        yield ""
        return
    if not isinstance(metrics, dict) or not all(isinstance(metrics.get(k), (int, float)) for k in ("tf_acc", "recon", "bpc", "min_p")):
        yield "This model carries no measurements (an untrained or unmeasured model)."
        yield ""
        return
    yield "Measured on its own text by `charmodels.evaluate` (a sequence's priming characters are given, not counted):"
    yield ""
    yield "| measure | value | what it measures |"
    yield "|---|---|---|"
    yield f"| tf_acc | {metrics['tf_acc']:.1%} | teacher-forced accuracy: reading the true text, how often its most likely next character is the right one |"
    yield f"| recon | {metrics['recon']:.1%} | reconstruction: writing greedily from the priming characters, the share of the text it writes before its first mistake |"
    yield f"| bpc | {metrics['bpc']:.4f} | bits per character: cross-entropy on the text (0 = always certain and right) |"
    yield f"| min_p | {metrics['min_p']:.3f} | the smallest probability it gives the right next character anywhere in the text |"
    yield ""
    met = metrics["tf_acc"] == 1.0 and metrics["recon"] == 1.0 and metrics["min_p"] >= 0.9
    yield f"Quality bar (tf_acc = recon = 100%, min_p ≥ 0.9): **{'met' if met else 'not met'}**."
    yield ""


def _usage_section(model: CharModel, info: dict, repo_id: str) -> Iterator[str]:
    prompt, length, temperature = example(model, info)
    draw = f", temperature={temperature}, seed=0" if temperature else ""
    yield "## Use it"
    yield ""
    yield "With charmodels installed (it is not on PyPI: `pip install -e .` in a copy of its repository or Space):"
    yield ""
    yield "```python"
    yield "from charmodels import CharModel, generate"
    yield ""
    yield f"model = CharModel.from_pretrained({repo_id!r})"
    yield f"prompt = {prompt!r}"
    yield f"steps = generate(model, prompt, {length}{draw})"
    yield 'print(prompt + "".join(step.char for step in steps))'
    yield "```"
    yield ""
    if temperature:
        yield f"This draws {length} characters at temperature {temperature} (the same seed writes the same text)."
    else:
        yield f"Greedy (temperature 0), it continues the prompt with the {length} characters it has learnt come next."
    yield ""
    yield "On the command line, or as a plain checkpoint file:"
    yield ""
    yield "```bash"
    hub = f"{HF_PREFIX}{repo_id}" if repo_id.count("/") == 1 and not Path(repo_id).is_absolute() else repo_id
    drawn = ["--temperature", str(temperature), "--seed", "0"] if temperature else []
    yield shlex.join(["python", "-m", "charmodels", "sample", hub, "--prompt", prompt, "--length", str(length), *drawn])
    yield "```"
    yield ""
    yield "```python"
    yield "from charmodels import load_checkpoint"
    yield ""
    yield f"model = load_checkpoint({hub!r})  # model.safetensors, checked against its SHA-256s"
    yield "```"
    yield ""
    yield "`model.safetensors` is a charmodels checkpoint: safetensors (no pickle) whose metadata holds the config,"
    yield "the vocabulary, the text, the training history and SHA-256s of the tensors and the metadata."
    yield ""


def _training_section(info: dict) -> Iterator[str]:
    history, train_config = info.get("history") or {}, info.get("train_config") or {}
    if not history and not train_config:
        return
    yield "## Training"
    yield ""
    facts = []
    if isinstance(history.get("steps"), int):
        facts.append(f"{history['steps']:,} steps")
    if isinstance(history.get("attempts"), int) and history["attempts"] > 1:
        facts.append(f"{history['attempts']} attempts (each from fresh weights; the best is kept)")
    if isinstance(history.get("seconds"), (int, float)):
        facts.append(f"{history['seconds']:.1f} s")
    if facts:
        yield "Trained for " + ", ".join(facts) + "."
    if train_config:
        yield "Settings: " + ", ".join(f"`{key}={value}`" for key, value in train_config.items()) + "."
    versions, machine = info.get("versions") or {}, info.get("trained_on") or {}
    if versions:
        yield "Saved with " + ", ".join(f"{key} {value}" for key, value in versions.items()) + "."
    if machine:
        yield "Trained on: " + ", ".join(f"{key} {value}" for key, value in machine.items()) + "."
    yield ""


# ---- the loss curve ----


def _ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `high`."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(high / step - 1e-9) + 1)]


def _tick_label(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def loss_curve_png(info: dict, title: str = "", size: tuple[int, int] = (800, 420)) -> bytes | None:
    """The training loss (in bits per character) by step as a PNG, with each new attempt marked
    and, for a long text, its validation bpc; None when `info` has no loss history."""
    history = info.get("history") or {}
    points = [(float(s), float(v) / math.log(2)) for s, v in history.get("loss") or [] if math.isfinite(v)]
    if not points:
        return None
    validation = [(float(s), float(v)) for s, v in history.get("val") or [] if math.isfinite(v)]
    from PIL import Image, ImageDraw, ImageFont  # Pillow comes with gradio

    width, height = size
    left, right, top, bottom = 70, 20, 40, 50
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(size=15), ImageFont.load_default(size=13)
    x_ticks = _ticks(max(s for s, _ in points + validation))
    y_ticks = _ticks(max(v for _, v in points + validation))
    x_high, y_high = x_ticks[-1], y_ticks[-1]

    def at(step: float, value: float) -> tuple[float, float]:
        return (left + step / x_high * (width - left - right), height - bottom - value / y_high * (height - top - bottom))

    for value in y_ticks:
        _, y = at(0, value)
        draw.line([(left, y), (width - right, y)], fill="#e5e5e5")
        draw.text((left - 8, y), _tick_label(value), fill="#333333", font=small, anchor="rm")
    for step in x_ticks:
        x, _ = at(step, 0)
        draw.text((x, height - bottom + 8), _tick_label(step), fill="#333333", font=small, anchor="mt")
    draw.line([(left, top), (left, height - bottom), (width - right, height - bottom)], fill="#333333", width=1)
    for attempt, step in enumerate(history.get("restarts") or [], start=2):
        x, _ = at(step, 0)
        for y in range(top, height - bottom, 8):  # dashed
            draw.line([(x, y), (x, min(y + 4, height - bottom))], fill="#999999")
        draw.text((x + 4, top + 2), f"attempt {attempt}", fill="#666666", font=small)
    draw.line([at(s, v) for s, v in points] if len(points) > 1 else [at(*points[0])] * 2, fill="#1f77b4", width=2)
    legend = [("training loss", "#1f77b4")]
    if validation:
        for s, v in validation:
            x, y = at(s, v)
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill="#ff7f0e")
        legend.append(("validation bpc", "#ff7f0e"))
    x = width - right - 10
    for label, colour in reversed(legend):
        box = draw.textbbox((0, 0), label, font=small)
        x -= box[2] - box[0]
        draw.text((x, top - 18), label, fill="#333333", font=small)
        draw.rectangle([x - 16, top - 13, x - 6, top - 8], fill=colour)
        x -= 30
    draw.text((left, 10), f"{title}: training loss" if title else "training loss", fill="#111111", font=font)
    draw.text(((left + width - right) / 2, height - 18), "step", fill="#333333", font=small, anchor="mm")
    axis = Image.new("RGB", (height, 20), "white")
    ImageDraw.Draw(axis).text((height / 2, 10), "bits per character", fill="#333333", font=small, anchor="mm")
    image.paste(axis.rotate(90, expand=True), (4, 0))
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
