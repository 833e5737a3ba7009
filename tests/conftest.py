"""Shared fixtures for the charmodels core tests: tiny real models, the shipped
checkpoints and a way to run the project's command-line tools as subprocesses."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import charmodels as cm

ROOT = Path(__file__).resolve().parent.parent


# ---- two workers (pytest-xdist), and the tests that time what a user sees run alone ----
#
# The suite runs on two xdist workers (pyproject's addopts). A test marked `alone` times what a
# user sees (Stop within 0.5 s, a stream within 1.5x of the server's time): it waits until the
# other worker's test has ended and holds it back until it has ended itself. Two locks across the
# workers make a lock that a waiting `alone` test always gets next: every other test passes the
# gate (shared) to take the turn (shared); an `alone` test closes the gate, then takes the turn
# for itself once the test that holds it ends.


@contextlib.contextmanager
def turn(alone: bool):
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:  # one process: every test runs alone
        yield
        return
    folder = Path(tempfile.gettempdir()) / f"charmodels-tests-{run}"
    folder.mkdir(exist_ok=True)
    with open(folder / "gate", "a") as gate, open(folder / "turn", "a") as held:
        fcntl.flock(gate, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        fcntl.flock(held, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Around a test's setup, call and teardown: the wider fixtures it starts or ends are in its turn."""
    with turn(item.get_closest_marker("alone") is not None):
        yield


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
