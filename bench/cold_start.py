"""Cold start: a fresh Python process to the first page served, the app against a bare Gradio app.

Each start runs `python <file>` with CI=1 (no browser), GRADIO_SERVER_NAME=127.0.0.1,
GRADIO_SERVER_PORT=<a free port> and HF_HUB_OFFLINE=1, in its own process group, then
polls GET / every 20 ms until it answers 200 with the page's HTML; that moment ends the
start, and the whole process group is killed. The app is `python demo/app.py`; the
baseline is a Blocks with one Markdown, written to a temporary file here and launched
the same way (queue, launch with prevent_thread_lock, block_thread). Starts alternate
app / bare so a slow spell of the machine hits both.

Was torch imported before the page was served? The app is not changed: a sitecustomize.py
in a temporary folder on PYTHONPATH (for both apps alike) puts a finder on sys.meta_path
that prints the wall-clock time the first time a `torch.` submodule is looked up, i.e.
while `import torch` is running (a bare `find_spec("torch")` availability check does not
count). After the first 200 the app's process is left up to 3 s more, only to see when
torch starts loading; the start's time was already taken.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import row

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "demo" / "app.py"
STARTS = 5  # per app; interleaved
QUICK_STARTS = 2
POLL = 0.02  # seconds between GETs
TIMEOUT = 120.0  # a start that takes longer is a failure
WATCH_AFTER_PAGE = 3.0  # seconds the app may live on after its page, to see torch load
TARGET_EXTRA = 0.5  # the app at most this many seconds slower than the bare app
TORCH_MARK = "BENCH_TORCH_IMPORT"

BARE_APP = '''"""A bare Gradio app: one Markdown, launched like demo/app.py."""
import gradio as gr

with gr.Blocks(title="bare") as demo:
    gr.Markdown("# bare")

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4)
    demo.launch(inbrowser=False, prevent_thread_lock=True)
    demo.block_thread()
'''

SITECUSTOMIZE = f'''"""bench.cold_start: print when `import torch` starts running (never changes what is imported)."""
import sys
import time


class _TorchWatch:
    seen = False

    def find_spec(self, name, path=None, target=None):
        if not self.seen and name.startswith("torch."):  # a submodule: torch/__init__.py is running
            self.seen = True
            sys.stderr.write("{TORCH_MARK} %.6f\\n" % time.time())
            sys.stderr.flush()
        return None


sys.meta_path.insert(0, _TorchWatch())
'''


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def torch_mark(log: Path) -> float | None:
    """The wall-clock time torch began loading, from the child's stderr, if it did."""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith(TORCH_MARK):
            return float(line.split()[1])
    return None


def start_once(script: Path, hook_dir: Path, log: Path, watch_torch: bool) -> dict:
    """One cold start: seconds to the first page, and when torch began loading (wall clock)."""
    port = free_port()
    env = {
        **os.environ,
        "CI": "1",
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")])),
    }
    url = f"http://127.0.0.1:{port}/"
    with open(log, "w", encoding="utf-8") as err, httpx.Client(timeout=2.0) as http:
        wall_start, started = time.time(), time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{script.name} exited with {process.returncode}: {log.read_text()[-2000:]}")
                if time.perf_counter() - started > TIMEOUT:
                    raise RuntimeError(f"{script.name} served no page in {TIMEOUT:g} s")
                try:
                    response = http.get(url)
                    if response.status_code == 200 and "<html" in response.text[:2000].lower():
                        seconds, wall_page = time.perf_counter() - started, time.time()
                        break
                except httpx.TransportError:
                    pass
                time.sleep(POLL)
            if watch_torch:  # the page is timed; now only wait to see when torch starts loading
                until = time.perf_counter() + WATCH_AFTER_PAGE
                while torch_mark(log) is None and time.perf_counter() < until and process.poll() is None:
                    time.sleep(POLL)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)  # its own session: the group is the app and anything it started
            except ProcessLookupError:
                pass
            process.wait()
    mark = torch_mark(log)
    return {
        "seconds": seconds,
        "torch_after_page": None if mark is None else mark - wall_page,  # negative: torch began before the page
        "torch_after_start": None if mark is None else mark - wall_start,
    }


def run(quick: bool) -> list[dict]:
    starts = QUICK_STARTS if quick else STARTS
    results: dict[str, list[dict]] = {"app": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as tmp:
        folder = Path(tmp)
        hook_dir = folder / "hook"
        hook_dir.mkdir()
        (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        bare = folder / "bare_app.py"
        bare.write_text(BARE_APP, encoding="utf-8")
        scripts = {"app": APP, "bare": bare}
        for repeat in range(starts):  # interleaved, the order flipped every other round
            order = ("app", "bare") if repeat % 2 == 0 else ("bare", "app")
            for name in order:
                results[name].append(start_once(scripts[name], hook_dir, folder / f"{name}.log", watch_torch=name == "app"))

    app_s = [r["seconds"] for r in results["app"]]
    bare_s = [r["seconds"] for r in results["bare"]]
    app_med, bare_med = statistics.median(app_s), statistics.median(bare_s)
    extra = app_med - bare_med

    def listed(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    rows = [
        row(
            "cold_start.bare.first_page_s",
            round(bare_med, 3),
            "s",
            notes=f"bare gr.Blocks (one Markdown): fresh `python` to the first GET / = 200, median of {starts}: {listed(bare_s)}",
        ),
        row(
            "cold_start.app.first_page_s",
            round(app_med, 3),
            "s",
            baseline=round(bare_med, 3),
            ratio=round(app_med / bare_med, 3),
            notes=f"`python demo/app.py` (CI=1): fresh `python` to the first GET / = 200, median of {starts} "
            f"interleaved with the bare app's: {listed(app_s)}",
        ),
        row(
            "cold_start.app_extra_s",
            round(extra, 3),
            "s",
            baseline=0.0,
            ratio=round(extra / TARGET_EXTRA, 3),
            target=f"<= {TARGET_EXTRA:g} s",
            meets_target=extra <= TARGET_EXTRA,
            notes="median app start minus median bare start; ratio is to the target",
        ),
    ]

    marks = [r["torch_after_page"] for r in results["app"]]
    seen = [m for m in marks if m is not None]
    before = sum(m < 0 for m in seen)
    bare_torch = sum(r["torch_after_start"] is not None for r in results["bare"])
    if seen:
        when = ", ".join(f"{m:+.3f}" for m in marks if m is not None)
        notes = (
            f"torch began loading before the page in {before} of {starts} starts; seconds from the first 200 to "
            f"`import torch` starting (negative = before): {when}"
        )
    else:
        notes = f"torch did not start loading within {WATCH_AFTER_PAGE:g} s after the page in any of {starts} starts"
    notes += f"; the bare app imported torch in {bare_torch} of {starts} starts"
    rows.append(
        row(
            "cold_start.app.torch_before_page",
            before > 0,
            "bool",
            target="false",
            meets_target=before == 0,
            notes=notes + " (watched with a sys.meta_path hook in sitecustomize on PYTHONPATH, app unchanged)",
        )
    )
    if seen:
        rows.append(
            row(
                "cold_start.app.torch_after_page_s",
                round(statistics.median(seen), 3),
                "s",
                notes=f"median seconds from the first page served to `import torch` starting in the background thread, "
                f"{len(seen)} of {starts} starts",
            )
        )
    return rows


if __name__ == "__main__":  # python -m bench.cold_start: this benchmark alone, quick
    for r in run(quick=True):
        print(r)
