"""The app as an MCP server (issue 14, item 9): `python demo/app.py --mcp` started as a visitor
starts it, driven by the `mcp` package's own client over streamable HTTP. Off by default:
the same app without the flag serves no MCP path.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

mcp = pytest.importorskip("mcp", reason="the mcp client: pip install 'charmodels[mcp]' (the test extra has it)")

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(*flags: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "CI": "1", "GRADIO_SERVER_NAME": "127.0.0.1",
                   "GRADIO_SERVER_PORT": str(port), **(env or {})}
    process = subprocess.Popen([sys.executable, "demo/app.py", *flags], cwd=ROOT, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/gradio_api/info", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the app did not start: {process.stdout.read()[-2000:]}")
        time.sleep(0.3)


def stop_app(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def mcp_url():
    process, url = start_app("--mcp")
    try:
        yield f"{url}/gradio_api/mcp/"
    finally:
        stop_app(process)


async def session_calls(url: str, calls: list[tuple[str, dict]]):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(url) as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        tools = await session.list_tools()
        results = [await session.call_tool(name, arguments) for name, arguments in calls]
        return tools.tools, results


def test_next_chars_and_generate_are_tools_with_their_schemas_and_answer(mcp_url):
    prompt = "Knowing is not enough; we must apply. Willing is not enough; we must "
    tools, (nexts, written, refused) = asyncio.run(session_calls(mcp_url, [
        ("next_chars", {"checkpoint": "goethe-lstm", "prompt": prompt}),
        ("generate", {"checkpoint": "goethe-lstm", "prompt": "Knowing", "length": 20}),
        ("next_chars", {"checkpoint": "/etc/passwd", "prompt": "x"}),
    ]))
    by_name = {tool.name: tool for tool in tools}
    assert {"next_chars", "generate"} <= set(by_name)
    schema = by_name["generate"].input_schema
    assert list(schema["properties"]) == ["checkpoint", "prompt", "length", "temperature", "top_k", "top_p", "seed"]
    assert schema["properties"]["length"]["type"] == "integer" and schema["required"] == ["checkpoint", "prompt"]
    assert "greedy" in by_name["generate"].description and "checkpoint" in by_name["next_chars"].description

    assert not nexts.is_error
    top = json.loads(nexts.content[0].text)["next"][0]
    assert top["char"] == "d" and top["probability"] > 0.9  # "we must do": the far word read
    assert not written.is_error
    assert json.loads(written.content[0].text)["text"] == " is not enough; we m"
    assert refused.is_error and "unknown checkpoint" in refused.content[0].text  # said, never a server path's contents


def test_off_by_default():
    process, url = start_app(env={"CHARMODELS_MCP": "", "GRADIO_MCP_SERVER": ""})
    try:
        assert httpx.post(f"{url}/gradio_api/mcp/", json={}, timeout=10).status_code == 404
    finally:
        stop_app(process)
