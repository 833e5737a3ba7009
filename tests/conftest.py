"""Shared fixtures for the charmodels core tests: tiny real models, the shipped
checkpoints and a way to run the project's command-line tools as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import charmodels as cm

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def make_model():
    """A tiny untrained model with seeded weights: make_model(cell, hidden, chars, layers, embedding_dim)."""

    def build(cell="gru", hidden_size=8, chars="abcdefgh", layers=1, embedding_dim=0, seed=0) -> cm.CharModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cm.CharModel(cm.ModelConfig(cell, hidden_size, layers, embedding_dim), cm.Vocab(chars))
        return model.eval()

    return build


_SHIPPED: dict[str, cm.CharModel] = {}


@pytest.fixture(scope="session")
def shipped():
    """Load a shipped checkpoint by name (goethe-lstm), cached for the session; never retrained."""

    def load(name: str) -> cm.CharModel:
        if name not in _SHIPPED:
            _SHIPPED[name] = cm.load_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors")
        return _SHIPPED[name]

    return load


@pytest.fixture(scope="session")
def run_python():
    """Run `python <args>` from the repository root; returns the CompletedProcess (text, UTF-8)."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "CHARMODELS_CHECKPOINTS"}
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONIOENCODING"] = "utf-8"
        return subprocess.run(
            [sys.executable, *map(str, args)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
        )

    return run
