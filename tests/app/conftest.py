"""Fixtures for the real-component tests of the Gradio app (demo/app.py).

One real server per test session on a free localhost port, driven by real
gradio_client clients (test_api.py) and a real headless Chromium (test_browser.py).
No mocks anywhere.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

# Before anything imports gradio (which imports huggingface_hub): otherwise every
# offline Hub lookup retries for about 23 s.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "demo"
ARTIFACTS = ROOT / "tests" / "artifacts"
if str(DEMO) not in sys.path:
    sys.path.insert(0, str(DEMO))

import app  # noqa: E402  (demo/app.py: a module-level `demo`, LAUNCH_OPTIONS)


def free_port() -> int:
    """A port nobody listens on right now (Gradio refuses server_port=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server_url():
    """The real app, queued and served on 127.0.0.1 for the whole session."""
    app.demo.queue(default_concurrency_limit=4)
    _, url, _ = app.demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
        **app.LAUNCH_OPTIONS,
    )
    try:
        yield url
    finally:
        app.demo.close()


@pytest.fixture(scope="session")
def client(server_url):
    from gradio_client import Client

    c = Client(server_url, verbose=False, download_files=False)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/ (gitignored): screenshots of the browser tests."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
