"""A whole class on the real app: 40 students for 3 minutes over the browser's own path.

Each student is a browser tab (bench/app_latency.Visitor: its own keep-alive connection and
session_hash; every action is a queue/join POST and the session's SSE stream read to its
end, as the Gradio 6.31 page does) that, until the time is up, repeats: types a prompt a
key at a time (one next-characters event per key, as the page's prompt.change fires),
generates `GENERATE_LENGTH` characters, opens the Inside view, with pauses between. Ten of
them also train their own text (English and Korean paragraphs, bench/classroom_recipe.py,
cells in turn) at a moment within the first `TRAIN_WINDOW` seconds, and two run a point of
the memory lab, both the same point (a whole class clicking one point costs one run).

The same traffic then runs against a no-op Gradio app (`python -m bench.classroom serve
noop`): the same page events and API names, each answering at once, so the ratio shows
what the app adds at this load, beyond Gradio itself. The app runs first, the no-op
after, on the same machine; the load average is recorded beside both.

Events are found the way the page finds them, by what triggers them in the app's config:
typing = cm-prompt's change, generating = cm-generate's click, Inside = cm-inside's click,
the lab = cm-lab-run's click, with every other input at the value the page starts with.
Training uses the API endpoint named by `--train-endpoint` (default `/train`, signature
`train(text, cell, hidden_size, steps, lines)`, streaming the queue position, loss and
prediction, ending with the checkpoint file) when the app has it, and otherwise the
page's cm-train click; a refusal is counted from the old one-slot app's busy message (the
app's fair line refuses none).

    python -m bench classroom [--quick]       # 40 students, 3 minutes (quick: 4 students, 20 s)
    python -m bench.classroom serve noop      # the no-op server alone
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from bench import row
from bench.app_latency import ROOT, Server, Visitor, free_port, percentile
from bench.classroom_recipe import class_texts

STUDENTS, QUICK_STUDENTS = 40, 4
DURATION, QUICK_DURATION = 180.0, 20.0  # seconds the students keep working
TRAINERS, QUICK_TRAINERS = 10, 1
LAB_STUDENTS, QUICK_LAB_STUDENTS = 2, 1
TRAIN_WINDOW, QUICK_TRAIN_WINDOW = 60.0, 5.0  # trainings start within this many seconds
TRAIN_ENDPOINT = os.environ.get("CHARMODELS_TRAIN_ENDPOINT", "/train")
TRAIN_HIDDEN, TRAIN_STEPS = 64, 1000
LAB_POINT = {"cell": "lstm", "gap": 10, "steps": 300, "seed": 0}
PROMPTS = ("Knowing is not enough; we must ", "Willing is not enough; we must ", "Knowing is not", "we must ")
GENERATE_LENGTH = 200
KEY_INTERVAL = 0.25  # seconds between two keys (about 4 keys a second)
PAUSE = (1.0, 4.0)  # seconds a student pauses between two actions
TRAIN_WAIT = 600.0  # seconds the benchmark waits for the last training after the students stop
BUSY = "another training is running"  # charmodels.errors.MESSAGES["training_busy"]: the old one-slot app's refusal


# ---- the no-op server -------------------------------------------------------------------------


def serve_noop() -> None:
    """The page's elements and API names the benchmark drives, each answering at once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gradio as gr

    from demo import gradio_settings

    gradio_settings.apply()  # the app's server settings: the same Gradio, doing nothing

    def nothing(*args):
        return None

    def streamed_nothing(*args):  # a generation streams: its first message is the first character
        yield None

    def api_next_chars(checkpoint: str, prompt: str) -> tuple[dict, str]:
        return {}, ""

    def api_generate(checkpoint: str, prompt: str, length: int = 200, temperature: float = 0.0, top_k: int = 0,
                     top_p: float = 1.0, seed: int = 0) -> tuple[str, dict]:
        return "", {}

    def api_train(text: str, cell: str, hidden_size: int, steps: int, lines: bool) -> str | None:
        return None

    with gr.Blocks(title="noop") as demo:
        checkpoint = gr.Textbox("goethe-lstm", visible=False)
        prompt = gr.Textbox(elem_id="cm-prompt")
        generate = gr.Button(elem_id="cm-generate")
        inside_prompt = gr.Textbox(elem_id="cm-inside-prompt")
        inside = gr.Button(elem_id="cm-inside")
        train_text = gr.Textbox(elem_id="cm-train-text")
        train = gr.Button(elem_id="cm-train")
        lab = gr.Button(elem_id="cm-lab-run")
        out = gr.Textbox()
        prompt.change(nothing, [checkpoint, prompt], [out], trigger_mode="always_last")
        generate.click(streamed_nothing, [checkpoint, prompt], [out], concurrency_limit=4)
        inside.click(nothing, [checkpoint, inside_prompt], [out])
        train.click(nothing, [train_text], [out])
        lab.click(nothing, [], [out])
        gr.api(api_next_chars, api_name="next_chars", concurrency_limit=8)
        gr.api(api_generate, api_name="generate", concurrency_limit=4)
        gr.api(api_train, api_name=TRAIN_ENDPOINT.strip("/"))
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    print(f"READY {url}", flush=True)
    sys.stdin.read()
    demo.close()


class NoopServer(Server):
    def __init__(self):
        self.kind = "noop"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.classroom", "serve", "noop"], cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = ""
        self.fn_index = {}


# ---- the page's events, as the page finds them -------------------------------------------------


class Page:
    """A server's config: its events by trigger, and the values the page starts with."""

    def __init__(self, url: str):
        import httpx

        config = httpx.get(f"{url}/config", timeout=30).json()
        self.components = {c["id"]: c for c in config["components"]}
        self.dependencies = config["dependencies"]
        self.api = {d["api_name"]: d["id"] for d in self.dependencies if d.get("api_name")}

    def event(self, elem_id: str, trigger: str) -> dict | None:
        for dependency in self.dependencies:
            for target, event in dependency.get("targets", []):
                props = self.components.get(target, {}).get("props", {})
                if props.get("elem_id") == elem_id and event == trigger:
                    return dependency
        return None

    def data(self, dependency: dict, **by_elem_id) -> list:
        """The inputs as the page sends them: each at its start value, the named ones replaced
        (by elem_id, or `_<n>` for the n-th input); a gr.State is kept by the server: null."""
        values = []
        for n, component_id in enumerate(dependency["inputs"]):
            component = self.components[component_id]
            props = component.get("props", {})
            elem_id = props.get("elem_id")
            if f"_{n}" in by_elem_id:
                values.append(by_elem_id[f"_{n}"])
            elif elem_id is not None and elem_id.replace("-", "_") in by_elem_id:
                values.append(by_elem_id[elem_id.replace("-", "_")])
            else:
                values.append(None if component["type"] == "state" else props.get("value"))
        return values


# ---- the students ----------------------------------------------------------------------------


@dataclass
class Tally:
    """Everything the students measured on one server (appended from their threads)."""

    seconds: dict = field(default_factory=lambda: {"key": [], "generate": [], "generate_first": [], "inside": [], "lab": []})
    errors: dict = field(default_factory=dict)
    refusals: int = 0
    train_path: str = ""  # the API endpoint or the page's button, as the trainings went
    trainings: list = field(default_factory=list)  # (submitted at, ended at, ok, streamed updates)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, action: str, seconds: float) -> None:
        with self.lock:
            self.seconds[action].append(seconds)

    def error(self, action: str, what: str) -> None:
        with self.lock:
            self.errors.setdefault(action, []).append(what)


def completed_ok(message: dict | None) -> bool:
    return bool(message) and message.get("msg") == "process_completed" and bool(message.get("success"))


def text_of(message: dict | None) -> str:
    return json.dumps(message.get("output", {}) if message else {}, ensure_ascii=False)


class Student:
    def __init__(self, number: int, server: Server, page: Page, tally: Tally, deadline: float, rng: random.Random,
                 train: tuple[float, str, str] | None, lab: bool):
        self.number, self.server, self.page, self.tally = number, server, page, tally
        self.deadline, self.rng, self.train, self.lab = deadline, rng, train, lab
        self.visitor = Visitor(server.url)

    def run(self) -> None:
        try:
            while time.monotonic() < self.deadline:
                if self.train is not None and time.monotonic() >= self.train[0]:
                    self.training(*self.train[1:])
                    self.train = None
                if self.lab:
                    self.lab_point()
                    self.lab = False
                self.type_prompt()
                self.generate()
                self.inside()
        finally:
            self.visitor.close()

    def pause(self) -> None:
        time.sleep(self.rng.uniform(*PAUSE))

    def call(self, action: str, dependency: dict | None, data: list, on_message=None) -> dict | None:
        if dependency is None:
            self.tally.error(action, "no such event")
            return None
        try:
            seconds, message = self.visitor.call(dependency["id"], data, on_message)
        except Exception as error:  # a broken connection is an error of this action, not the benchmark's end
            self.tally.error(action, type(error).__name__)
            return None
        if not completed_ok(message):
            self.tally.error(action, text_of(message)[:200])
            return None
        self.tally.add(action, seconds)
        return message

    def type_prompt(self) -> None:
        typing = self.page.event("cm-prompt", "change")
        prompt = self.rng.choice(PROMPTS)
        for n in range(1, len(prompt) + 1):
            if time.monotonic() >= self.deadline:
                return
            started = time.monotonic()
            self.call("key", typing, self.page.data(typing, cm_prompt=prompt[:n]) if typing else [])
            time.sleep(max(0.0, started + KEY_INTERVAL - time.monotonic()))
        self.pause()

    def generate(self) -> None:
        event = self.page.event("cm-generate", "click")
        first = []
        started = time.perf_counter()

        def on_message(message: dict) -> None:
            if message.get("msg") == "process_generating" and not first:
                first.append(time.perf_counter() - started)

        data = self.page.data(event, cm_prompt=self.rng.choice(PROMPTS), cm_length=GENERATE_LENGTH) if event else []
        if self.call("generate", event, data, on_message) and first:
            self.tally.add("generate_first", first[0])
        self.pause()

    def inside(self) -> None:
        event = self.page.event("cm-inside", "click")
        self.call("inside", event, self.page.data(event, cm_inside_prompt=self.rng.choice(PROMPTS)) if event else [])
        self.pause()

    def lab_point(self) -> None:
        event = self.page.event("cm-lab-run", "click")
        p = LAB_POINT
        data = self.page.data(event, cm_lab_cell=p["cell"], _1=p["gap"], _2=p["steps"], _3=p["seed"]) if event else []
        self.call("lab", event, data)

    def training(self, cell: str, text: str) -> None:
        submitted = time.monotonic()
        updates = []

        def on_message(message: dict) -> None:
            if message.get("msg") == "process_generating":
                updates.append(message)

        if TRAIN_ENDPOINT.strip("/") in self.page.api:
            dependency = {"id": self.page.api[TRAIN_ENDPOINT.strip("/")]}
            data = [text, cell, TRAIN_HIDDEN, TRAIN_STEPS, False]
            self.tally.train_path = TRAIN_ENDPOINT
        else:  # the page's Train button
            dependency = self.page.event("cm-train", "click")
            self.tally.train_path = "the page's cm-train button"
            data = self.page.data(dependency, cm_train_text=text, cm_train_cell=cell, _3=TRAIN_HIDDEN, _4=TRAIN_STEPS) if dependency else []
        if dependency is None:
            self.tally.error("train", "no such event")
            return
        try:
            _, message = self.visitor.call(dependency["id"], data, on_message)
        except Exception as error:
            self.tally.error("train", type(error).__name__)
            message = None
        said = text_of(message) + "".join(text_of(u) for u in updates[-3:])
        ok = completed_ok(message) and ".safetensors" in said
        with self.tally.lock:
            if BUSY in said:
                self.tally.refusals += 1
            elif not ok:
                self.tally.errors.setdefault("train", []).append(said[:200])
            self.tally.trainings.append((submitted, time.monotonic(), ok, len(updates)))


def drive(server: Server, students: int, duration: float, trainers: int, lab_students: int, window: float) -> tuple[Tally, float]:
    """Run the class against one server; (tally, seconds until the last training ended, from the start)."""
    page = Page(server.url)
    tally = Tally()
    rng = random.Random(0)
    texts = class_texts(trainers, seed=3)
    start = time.monotonic()
    deadline = start + duration
    crowd = []
    for n in range(students):
        train = None
        if n < trainers:
            _, cell, text = texts[n]
            train = (start + rng.uniform(0, window), cell, text)
        lab = trainers <= n < trainers + lab_students
        crowd.append(Student(n, server, page, tally, deadline, random.Random(n), train, lab))
    threads = [threading.Thread(target=s.run, daemon=True) for s in crowd]
    for n, thread in enumerate(threads):
        time.sleep(max(0.0, start + n * min(5.0, duration / 10) / students - time.monotonic()))  # arriving, not all at once
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline + TRAIN_WAIT - time.monotonic()))
    last = max((ended for _, ended, _, _ in tally.trainings), default=start) - start
    return tally, last


# ---- the benchmark -------------------------------------------------------------------------------


def run(quick: bool) -> list[dict]:
    students = QUICK_STUDENTS if quick else STUDENTS
    duration = QUICK_DURATION if quick else DURATION
    trainers = QUICK_TRAINERS if quick else TRAINERS
    labs = QUICK_LAB_STUDENTS if quick else LAB_STUDENTS
    window = QUICK_TRAIN_WINDOW if quick else TRAIN_WINDOW
    results, peaks, loads = {}, {}, {}
    for kind in ("app", "noop"):  # one after the other: each server gets the whole machine's share
        server = Server("app") if kind == "app" else NoopServer()
        try:
            server.wait_ready()
            warm = Visitor(server.url)  # loading torch and the first model is cold start, not class time
            page = Page(server.url)
            for elem_id, trigger, values in (("cm-prompt", "change", {"cm_prompt": "K"}), ("cm-generate", "click", {"cm_length": 20}),
                                             ("cm-inside", "click", {"cm_inside_prompt": "Know"})):
                dependency = page.event(elem_id, trigger)
                if dependency is not None:
                    warm.call(dependency["id"], page.data(dependency, **values))
            warm.close()
            load_start = os.getloadavg()[0]
            results[kind] = drive(server, students, duration, trainers, labs, window)
            loads[kind] = (load_start, os.getloadavg()[0])
            peaks[kind] = server.peak_rss_mb()
        finally:
            server.stop()
    return report(results, peaks, loads, students, duration, trainers, labs)


def report(results: dict, peaks: dict, loads: dict, students: int, duration: float, trainers: int, labs: int) -> list[dict]:
    (app, app_last), (noop, _) = results["app"], results["noop"]
    where = (f"{students} students for {duration:g} s ({trainers} train, {labs} run the lab); load average app "
             f"{loads['app'][0]:.1f}->{loads['app'][1]:.1f}, no-op {loads['noop'][0]:.1f}->{loads['noop'][1]:.1f}")
    rows = []
    for action, what in (("key", "one next-characters event per typed key (cm-prompt change)"),
                         ("generate_first", f"first streamed character of a {GENERATE_LENGTH}-character generation"),
                         ("generate", f"a whole {GENERATE_LENGTH}-character generation (cm-generate click)"),
                         ("inside", "the Inside view (cm-inside click)")):
        ours, base = app.seconds[action], noop.seconds[action]
        if not ours:
            rows.append(row(f"classroom.{action}.p50_ms", None, "ms", notes=f"no {action} answered; {what}"))
            continue
        for p in (50, 99):
            value = (statistics.median(ours) if p == 50 else percentile(ours, 99)) * 1000
            baseline = ((statistics.median(base) if p == 50 else percentile(base, 99)) * 1000) if base else None
            rows.append(row(f"classroom.{action}.p{p}_ms", round(value, 1), "ms",
                            baseline=round(baseline, 1) if baseline else None,
                            ratio=round(value / baseline, 1) if baseline else None,
                            notes=f"{what}; {len(ours)} answered (no-op {len(base)}); {where}" if p == 50 else
                            f"nearest-rank p99 of {len(ours)} (no-op {len(base)})"))
    if app.seconds["lab"]:
        rows.append(row("classroom.lab.seconds", round(max(app.seconds["lab"]), 1), "s",
                        notes=f"the slower of {len(app.seconds['lab'])} live lab runs of the same point {LAB_POINT}"))
    errors = sum(len(v) for v in app.errors.values())
    noop_errors = sum(len(v) for k, v in noop.errors.items() if k != "train")  # its /train answers nothing by design
    rows.append(row("classroom.errors", errors, "requests", baseline=noop_errors, target="0",
                    meets_target=errors == 0,
                    notes="; ".join(f"{k}: {len(v)} ({v[0][:80]})" for k, v in app.errors.items()) or "none"))
    rows.append(row("classroom.refusals", app.refusals, "trainings", target="0", meets_target=app.refusals == 0,
                    notes=f"trainings told to try again later, of {len(app.trainings)}"))
    done = sum(1 for *_, ok, _ in app.trainings if ok)
    rows.append(row("classroom.trainings_done", done, "trainings", target=str(trainers), meets_target=done == trainers,
                    notes=f"ended with a checkpoint; through {app.train_path or 'nothing'}"))
    rows.append(row("classroom.last_training_s", round(app_last, 1), "s", target=f"<= {duration:g} s",
                    meets_target=done == trainers and app_last <= duration,
                    notes="from the class's start until the last training ended (trainings start within the first "
                          f"{TRAIN_WINDOW if duration == DURATION else QUICK_TRAIN_WINDOW:g} s)"))
    if peaks.get("app") is not None:
        rows.append(row("classroom.peak_rss_mb", round(peaks["app"], 1), "MB", baseline=round(peaks["noop"], 1) if peaks.get("noop") else None,
                        ratio=round(peaks["app"] / peaks["noop"], 2) if peaks.get("noop") else None,
                        notes="VmHWM of the app's server process and of its training processes, summed, after the class; baseline: the no-op's"))
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve" and sys.argv[2] == "noop":
        serve_noop()
    else:
        for r in run(quick=True):
            print(r)
