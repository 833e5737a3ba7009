"""The package's errors: each names its problem by a code and its parameters.

`str(error)` is an English sentence for Python users; the app says the same thing in the
reader's language by looking the code up in its own translations (demo/i18n.py), so the
library holds no text for the page. `MESSAGES` is the catalogue of every code the
library raises, kept free of heavy imports so any caller can catch these errors.
"""

from __future__ import annotations

import os
from typing import Any

# code -> the English sentence, filled from the error's parameters with str.format
MESSAGES: dict[str, str] = {
    # numbers and text given to the library (charmodels.checks)
    "not_text": "{name} must be text, got {got}",
    "not_whole": "{name} must be a whole number from {low} to {high}, got {got}",
    "not_number": "{name} must be a number from {low} to {high}, got {got}",
    "not_number_above": "{name} must be a number above {low} and at most {high}, got {got}",
    "not_choice": "{name} must be one of: {choices}; got {got}",
    # prompts and vocabularies
    "empty_prompt": "the prompt is empty: give at least one character for the model to read",
    "prompt_too_long": "the prompt has {n:,} characters; the limit is {limit:,}",
    "unknown_chars": "not in the model's vocabulary: {shown}",
    "model_expected": "expected a CharModel, got {got}: load one first, e.g. load_checkpoint({name!r})",
    "text_expected": "{got!r} is the name of a built-in corpus, not a text: pass CORPORA[{got!r}] to use that corpus, or Corpus('mine', {got!r}, '') to use the word itself as a text",
    "vocab_empty": "a vocabulary needs at least one character",
    "vocab_not_chars": "every vocabulary entry must be exactly one character, got {got}",
    "vocab_repeats": "a vocabulary lists each character once, but these repeat: {shown} (Vocab.from_text(text) gives the sorted set of a text's characters)",
    "bad_ids": "ids must be integers from 0 to {high}, got {got}",
    "lines_conflict": "lines={lines} contradicts the corpus {name!r}, whose lines is {corpus_lines}: a Corpus brings its own lines, so leave lines out",
    # explaining a step (charmodels.explain.step)
    "not_units": "units must be a list of unit numbers from 0 to {high}, got {got}",
    # texts to train on
    "text_empty": "the text is empty: give a text to train on",
    "text_too_short": "a text needs at least 2 characters: one to read and one to predict",
    "text_one_char": "the text uses only one character ({char}): a model needs at least two different characters to choose between",
    "no_lines": "the text has no line with a character on it: a text trained as separate lines needs at least one line that is not empty",
    "long_text_too_short": "a long text needs at least 4 characters: some to train on, some to hold out",
    "hold_out_too_much": "the text ({n:,} characters) is too short to hold out {share} of it and train on the rest",
    "too_many_streams": "the training part has {n:,} characters, too few for {streams:,} streams: lower the batch size",
    "text_too_long": "the text is {n:,} characters long; the limit is {limit:,}: shorten it by {over:,} characters",
    "file_too_large": "the file is {size:,} bytes: too large for a text of at most {limit:,} characters",
    "file_not_utf8": "the file is not UTF-8 text (byte {at:,} cannot be read): save it as UTF-8",
    "file_binary": "the file holds NUL bytes: it looks like a binary file, not text",
    "corpus_name": "a name must be letters, digits, '_' or '.', got {got}",
    # the command line (python -m charmodels)
    "cli_no_text": "this checkpoint does not carry its training text: pass a text to measure it on with --text-file PATH",
    "cli_long_text": "this checkpoint was trained on the long text {about}, which it does not carry: pass that file with --text-file PATH to measure its validation bpc",
    "cli_text_unreadable": "cannot read {path}: {detail}",
    "cli_text_mismatch": "{path} is not the text this checkpoint was trained on, {about}",
    # models the app serves
    "unknown_checkpoint": "unknown checkpoint {got}: use <corpus>-<cell>, one of {choices}",
    "upload_gone": "the uploaded model is no longer in memory: upload the file again",
    "upload_too_large": "the file is {size:,} bytes; this app takes checkpoints of at most {limit:,} bytes",
    "training_busy": "another training is running; try again when it ends (at most {limit} at a time, each at most {seconds:g} s)",
    "request_unknown": "no such request in this session: it ended, expired or was replaced; ask again",
    "queue_closed": "the app is shutting down and takes no new trainings",
    "worker_died": "the training process ended unexpectedly (exit code {exit_code}); please ask again",
    # checkpoint files (CheckpointError adds the file's name in front)
    "file_not_found": "file not found",
    "not_a_file": "not a file",
    "file_empty": "the file is empty",
    "file_unreadable": "the file cannot be read: {detail}",
    "checkpoint_too_large": "the file is {size:,} bytes, far more than any charmodels checkpoint",
    "pickle": "this is a Python pickle, not safetensors; charmodels never loads pickles",
    "torch_zip": "this is a torch.save zip archive (pickles inside), not safetensors; charmodels never loads pickles",
    "not_safetensors": "not a readable safetensors file (truncated or damaged?): {detail}",
    "not_charmodels": "a safetensors file, but not a charmodels checkpoint (no charmodels format tag)",
    "not_train_state": "a safetensors file, but not a charmodels training state",
    "no_train_state": "no training state here: was the run saved with a checkpoint path?",
    "train_state_version": "training-state version {got} is not supported (this charmodels reads {supported})",
    "metadata_missing": "metadata is missing: {keys}",
    "metadata_json": "metadata entry {key} is not valid JSON",
    "metadata_entry": "metadata entry {where} must be a JSON {expected}",
    "format_version": "format version {got} is not supported (this charmodels reads {supported})",
    "tensors_corrupted": "tensor data does not match its recorded SHA-256: the file is corrupted",
    "metadata_corrupted": "metadata does not match its recorded SHA-256: the file is corrupted",
    "bad_config": "invalid model config: {detail}",
    "vocab_not_list": "invalid vocabulary: it must be a list of characters, got {got}",
    "vocab_none": "invalid vocabulary: it lists no characters",
    "vocab_entry": "invalid vocabulary: entry {index} is {got}, not one character",
    "vocab_repeated": "invalid vocabulary: {shown} is listed more than once",
    "tensor_names": "tensors do not match the config (missing: {missing}, unexpected: {unexpected})",
    "tensor_shape": "tensor {tensor} has shape {got}, the config needs {expected}",
    "tensor_dtype": "tensor {tensor} is {got}, not float32",
    "not_finite": "tensor {tensor} holds values that are not finite (NaN or infinity)",
    "no_such_checkpoint": "no such checkpoint file or shipped name (shipped: {choices})",
    "hub_name": "a Hub checkpoint is named hf://owner/repo (its model.safetensors) or hf://owner/repo/file.safetensors",
    "hub_offline": "offline mode (HF_HUB_OFFLINE=1) and not in the local Hugging Face cache",
    "hub_unreachable": "the Hugging Face Hub ({endpoint}) cannot be reached: no network?",
    "hub_failed": "could not fetch it from the Hugging Face Hub ({detail})",
    # a model folder in the Hugging Face layout (charmodels.hub: save_pretrained / from_pretrained)
    "pretrained_no_weights": "no model.safetensors here: not a model folder written by save_pretrained",
    "pretrained_no_config": "no config.json beside model.safetensors: not a folder written by save_pretrained (load_checkpoint reads model.safetensors alone)",
    "pretrained_config": "config.json is not a JSON object: {detail}",
    "pretrained_config_mismatch": "config.json disagrees with model.safetensors on: {keys}",
    # saving a checkpoint (save_checkpoint; "not_finite" and "tensor_dtype" above serve it too)
    "metadata_reserved": "metadata key {key} is reserved for the checkpoint format",
    "metadata_not_json": "metadata {key} cannot be written as JSON: {detail}",
    # publishing on the Hugging Face Hub (push_to_hub, train.py --push-to-hub, python -m charmodels publish)
    "hub_repo_id": "a Hub repository is named owner/name (letters, digits, '-', '_' and '.', at most 96 characters), got {got}",
    "hub_push_offline": "offline mode (HF_HUB_OFFLINE=1): nothing was uploaded to {repo}; the complete upload is ready in {folder}: upload it later with: {command}",
    "hub_push_no_token": "not logged in to the Hugging Face Hub: nothing was uploaded to {repo}; the complete upload is ready in {folder}: log in with `hf auth login` (or set HF_TOKEN), then run: {command}",
    "hub_push_unreachable": "the Hugging Face Hub ({endpoint}) cannot be reached (no network?): nothing was uploaded to {repo}; the complete upload is ready in {folder}: upload it later with: {command}",
    "hub_push_failed": "uploading to {repo} failed ({detail}); the complete upload is ready in {folder}: try again with: {command}",
    # the explainer through time (charmodels.gradflow, surprise, recital, course)
    "surprise_no_training_text": "this checkpoint does not carry its training text: pass the text the unigram and bigram models should count (training_text=...)",
    "recital_no_training_text": "this checkpoint does not carry its training text: pass the text to look for recited stretches in (training_text=...)",
    "course_text_too_short": "the course's recipe reads windows of {window} characters: give a text of more than {window} characters",
}


def describe(code: str, params: dict[str, Any]) -> str:
    """The English sentence for an error code."""
    return MESSAGES[code].format(**params)


class CharmodelsError(ValueError):
    """A problem with what was given to the library: `.code` names it, `.params` fill its message.

    A ValueError, so code that catches bad arguments the usual way catches these too.
    """

    def __init__(self, code: str, **params: Any):
        if code not in MESSAGES:
            raise KeyError(f"unknown error code {code!r}")  # a bug in charmodels, not in the caller's input
        self.code, self.params = code, params
        super().__init__(describe(code, params))


class CheckpointError(CharmodelsError):
    """A checkpoint could not be read; the message names the file and the problem.

    `.source` is the file (or name) as given, `.problem` the sentence without it: the app
    shows the problem, never a path of the server.
    """

    def __init__(self, source: str | os.PathLike, code: str, **params: Any):
        super().__init__(code, **params)
        self.source, self.problem = str(source), describe(code, params)
        self.args = (f"{source}: {self.problem}",)

    def __str__(self) -> str:
        return self.args[0]
