"""The app as an MCP server (optional: `pip install "charmodels[mcp]"`, then `python demo/app.py --mcp`
or CHARMODELS_MCP=1): an AI tutor can ask a model for its next-character distribution and
continuations, the same service the page and the API use.

Gradio 6.31's own `launch(mcp_server=True)` needs the `mcp` package below 2.0, whose API
changed in 2.0 (its tools fail with "'Server' object has no attribute 'call_tool'"), so
this module serves the two tools with mcp 2's `MCPServer`, mounted into the same server as
the page at Gradio's MCP path (/gradio_api/mcp/, streamable HTTP). Each tool's docstring
(its Args) and type hints are its schema. A refused request is a tool error said in English
from the error's code, never with a server path.
"""

from __future__ import annotations

import contextlib
from typing import Any

from demo.i18n import error_text

MCP_PATH = "/gradio_api/mcp"  # where Gradio would serve its own MCP server


def refused(error: Exception) -> Exception:
    """A failed tool call as mcp's ToolError: the model reads the sentence (an unexpected error logs itself)."""
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(error_text("en", error))


def described(api) -> str:
    """An API function's docstring without its Returns section (a tool returns a dict of its own):
    the tool and the named endpoint are documented once, by the endpoint."""
    return api.__doc__.split("\n    Returns:")[0].rstrip() + "\n"


def server(api: dict):
    """An MCPServer with the tools next_chars and generate, documented as the app's endpoints
    `api["next_chars"]` and `api["generate"]` are."""
    from mcp.server.mcpserver import MCPServer

    mcp = MCPServer(
        "charmodels",
        instructions="Character-level RNN, LSTM and GRU language models trained on short texts (the goethe, anthem, "
        "pets ... corpora) and on Tiny Shakespeare and Korean lecture notes. next_chars shows what a model expects "
        "next; generate lets it write.",
    )

    def next_chars(checkpoint: str, prompt: str) -> dict[str, Any]:
        from demo import handlers, service

        try:
            pairs, notes = service.next_chars(checkpoint, prompt)
        except Exception as error:  # noqa: BLE001 (said from its code; unexpected ones are logged by error_text)
            raise refused(error) from None
        return {"next": [{"char": char, "probability": prob} for char, prob in pairs],
                "notes": handlers.word_notes("en", notes, between="\n")}

    def generate(checkpoint: str, prompt: str, length: int = 200, temperature: float = 0.0, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 0) -> dict[str, Any]:
        from demo import service

        try:
            request = service.check_request(length, temperature, top_k, top_p, seed)
            _, _, steps = service.stream(checkpoint, prompt, request)
            written = [(step.char, step.prob) for step in steps]
        except Exception as error:  # noqa: BLE001
            raise refused(error) from None
        return {"text": "".join(char for char, _ in written), "probabilities": [prob for _, prob in written]}

    for tool in (next_chars, generate):
        tool.__doc__ = described(api[tool.__name__])
        mcp.tool()(tool)
    return mcp


def mounted_app(blocks, api: dict, **launch_options):
    """A FastAPI app serving the page (`blocks`, with Gradio's launch options) and the MCP tools at
    MCP_PATH, documented as the endpoints in `api` (name -> function)."""
    import fastapi
    import gradio as gr

    mcp = server(api)
    tools = mcp.streamable_http_app(streamable_http_path="/", stateless_http=True, json_response=True)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with mcp.session_manager.run():
            yield

    app = fastapi.FastAPI(lifespan=lifespan)
    app.mount(MCP_PATH, tools)  # before the page's mount at "/": its path is matched first
    launch_options.pop("max_threads", None)  # not an option of a mounted app: the caller sets blocks.max_threads
    return gr.mount_gradio_app(app, blocks, path="", **launch_options)
