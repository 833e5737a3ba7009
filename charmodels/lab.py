"""The long-term-dependency lab: does a cell remember one character across a gap of L?

Each line is ``a`` or ``b``, then L filler characters drawn from ``cdefgh``, then the
first letter again: ``a`` + ``fchd`` + ``a`` for L = 4. Only the last character can be
predicted, and only by remembering the first one, L + 1 steps back. A model that has
forgotten it can do no better than a coin toss between ``a`` and ``b`` (chance = 0.5).

Training (one point of the lab, `run_point`): every step reads a batch of fresh lines,
each from a fresh state, with Adam. The loss is the cross-entropy at the answer position
only. The fillers are random by design: all a model can learn about them is "one of six"
(loss ln 6 at best), and with L of them per line their gradient would outweigh the one
answer position L to 1 and hide the only long-range signal in noise. Accuracy is counted
at the answer position too, as the argmax over the whole vocabulary, on a fixed held-out
set of lines (the same lines for every cell and seed; half start with ``a``).

The three cells get about the same number of parameters (one-hot input, one recurrent
layer, the same linear head): the hidden size is chosen per cell for `param_target`.

Budget (steps), initialisation (`forget_bias`) and curriculum decide what a student
sees, so they are fields of `LabConfig`, not hidden choices.

Regenerate the shipped results (`charmodels/data/ltd_results.json`):

    python -m charmodels.lab --out charmodels/data/ltd_results.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch.nn import functional as F

from .checks import choice, number, whole
from .model import CELLS, CharModel, ModelConfig
from .training import Loop, Stepped, Window, fit
from .vocab import Vocab

FIRST = "ab"  # the letters to remember
FILLER = "cdefgh"  # the letters in between
VOCAB_CHARS = FIRST + FILLER
CHANCE = 1 / len(FIRST)  # a model that forgot the first letter: a coin toss
MAX_GAP = 1000
CURVE_POINTS = 100  # at most this many (step, loss) points in a result
CURRICULUM_SHARE = 2 / 3  # with a curriculum, the gap reaches its target after this share of the steps
RESULTS_FORMAT = "charmodels-ltd-results"
RESULTS_VERSION = 1
DEFAULT_RESULTS = Path(__file__).resolve().parent / "data" / "ltd_results.json"

# Gate blocks per cell in torch's weight layout (LSTM: input, forget, cell, output).
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass(frozen=True)
class LabConfig:
    cell: str = "lstm"  # "rnn" (tanh), "lstm" or "gru"
    gap: int = 10  # L: filler characters between the first letter and its repeat
    seed: int = 0  # seeds the weights and the training lines (not the held-out lines)
    steps: int = 600  # optimizer steps, one fresh batch each: the training budget
    lr: float = 3e-3  # Adam's learning rate
    batch: int = 64  # lines per step
    # LSTM only: the forget gate's bias at the start (torch's bias_ih part; the bias_hh
    # part is set to 0, so this is the gate's whole bias). None keeps torch's default
    # uniform initialisation, around 0: the gate starts half open, and memory decays.
    forget_bias: float | None = None
    # train on gaps growing linearly from 1 to `gap` over the first CURRICULUM_SHARE of
    # the steps, then on `gap`; evaluation is always on `gap`
    curriculum: bool = False
    param_target: int = 5500  # parameters each cell aims for (the hidden size is chosen for it)
    hidden_size: int | None = None  # None = chosen for param_target; a number overrides it
    clip: float | None = None  # gradient-norm clipping; None = none (the plain recipe)
    eval_lines: int = 512  # held-out lines the accuracy is measured on

    def __post_init__(self) -> None:
        choice("cell", self.cell, CELLS)
        for name, low, high in (
            ("gap", 1, MAX_GAP),
            ("seed", 0, 2**31 - 1),
            ("steps", 1, 1_000_000),
            ("batch", 1, 4096),
            ("param_target", 50, 10_000_000),
            ("eval_lines", 2, 100_000),
        ):
            whole(name, getattr(self, name), low, high)
        if self.hidden_size is not None:
            whole("hidden_size", self.hidden_size, 1, 4096)
        number("lr", self.lr, 0, 1, above_low=True)
        if self.forget_bias is not None:
            if self.cell != "lstm":
                raise ValueError(f"forget_bias applies to the LSTM only, not to {self.cell!r}; leave it None")
            number("forget_bias", self.forget_bias, -20, 20)
        if not isinstance(self.curriculum, bool):
            raise ValueError(f"curriculum must be True or False, got {self.curriculum!r}")
        if self.clip is not None:
            number("clip", self.clip, 0, math.inf, above_low=True)

    @property
    def hidden(self) -> int:
        """The hidden size used: the override, or the one closest to param_target."""
        if self.hidden_size is not None:
            return self.hidden_size
        return hidden_for(self.cell, self.param_target)

    def gap_at(self, step: int) -> int:
        """The gap trained on at step 1..steps (the target, or the curriculum's)."""
        if not self.curriculum:
            return self.gap
        ramp = max(1, math.ceil(self.steps * CURRICULUM_SHARE))
        return max(1, min(self.gap, math.ceil(self.gap * step / ramp)))

    def to_dict(self) -> dict:
        return {**asdict(self), "hidden": self.hidden}


def count_parameters(cell: str, hidden: int, vocab_size: int = len(VOCAB_CHARS)) -> int:
    """Parameters of a one-layer, one-hot CharModel, without building it:
    gates x (input weights + recurrent weights + two biases) + linear head."""
    recurrent = _GATES[cell] * (hidden * vocab_size + hidden * hidden + 2 * hidden)
    return recurrent + hidden * vocab_size + vocab_size


def hidden_for(cell: str, param_target: int) -> int:
    """The hidden size whose parameter count is closest to param_target."""
    if cell not in _GATES:
        raise ValueError(f"unknown cell type {cell!r}; choose one of: {', '.join(_GATES)}")
    hidden = 1
    while count_parameters(cell, hidden + 1) <= param_target:
        hidden += 1
    above = hidden + 1
    if abs(count_parameters(cell, above) - param_target) < abs(count_parameters(cell, hidden) - param_target):
        return above
    return hidden


def make_lines(gap: int, n: int, rng: random.Random, balanced: bool = False) -> list[str]:
    """n lines of the task: first letter, `gap` filler letters, the first letter again
    (each gap + 2 characters). balanced=True alternates the first letters a, b, a, b..."""
    whole("gap", gap, 0, MAX_GAP)
    whole("n", n, 0, 10_000_000)
    lines = []
    for i in range(n):
        first = FIRST[i % len(FIRST)] if balanced else rng.choice(FIRST)
        lines.append(first + "".join(rng.choices(FILLER, k=gap)) + first)
    return lines


def held_out_lines(gap: int, n: int = 512) -> list[str]:
    """The fixed evaluation lines for a gap: the same for every cell, seed and run."""
    return make_lines(gap, n, random.Random(f"ltd-held-out-{gap}"), balanced=True)


@dataclass(frozen=True)
class PointResult:
    config: LabConfig
    accuracy: float  # share of held-out lines whose answer is the argmax
    eval_loss: float  # held-out cross-entropy at the answer position (ln 2 = 0.693 is a coin toss)
    chance: float  # the accuracy of a model that forgot the first letter
    parameters: int
    hidden: int
    steps: int  # steps taken (fewer than config.steps when on_step stopped the run)
    stopped: bool  # on_step stopped it
    seconds: float
    loss_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, training loss), <= CURVE_POINTS

    def to_dict(self) -> dict:
        record = asdict(self)
        record["config"] = self.config.to_dict()
        record["loss_curve"] = [list(point) for point in self.loss_curve]
        return record


def _encode(lines: list[str], vocab: Vocab) -> torch.Tensor:
    return torch.tensor([vocab.encode(line) for line in lines], dtype=torch.long)  # (batch, gap + 2)


def _answer_logits(model: CharModel, ids: torch.Tensor) -> torch.Tensor:
    """(batch, gap + 2) lines -> (batch, vocab) logits for the last character, read from a fresh state."""
    logits, _ = model(ids[:, :-1])  # (batch, gap + 1, vocab)
    return logits[:, -1]


def build_model(config: LabConfig) -> CharModel:
    """The seeded, initialised model of a lab point (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = CharModel(ModelConfig(config.cell, config.hidden), Vocab(VOCAB_CHARS))
    if config.forget_bias is not None:
        h = config.hidden
        with torch.no_grad():
            for layer in range(model.config.layers):
                getattr(model.rnn, f"bias_ih_l{layer}")[h : 2 * h].fill_(config.forget_bias)
                getattr(model.rnn, f"bias_hh_l{layer}")[h : 2 * h].zero_()
    return model


def _thin(points: list[tuple[int, float]], keep: int = CURVE_POINTS) -> list[tuple[int, float]]:
    """At most `keep` evenly spaced points, the first and the last always among them."""
    if len(points) <= keep:
        return list(points)
    picks = sorted({round(i * (len(points) - 1) / (keep - 1)) for i in range(keep)})
    return [points[i] for i in picks]


def run_point(config: LabConfig, on_step: Callable[[int, float], bool | None] | None = None) -> PointResult:
    """Train one cell on one gap with one seed, then measure it on the held-out lines.

    `on_step(step, loss)` is called after every step; returning False stops the run
    (the result then says stopped=True and is measured on the weights so far).
    Deterministic: the same config gives the same numbers. These models are tiny: one
    torch thread (torch.set_num_threads(1)) runs them fastest; on a busy two-core machine
    two threads were measured up to 100x slower.
    """
    started = time.perf_counter()
    vocab = Vocab(VOCAB_CHARS)
    model = build_model(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    rng = random.Random(config.seed)
    curve: list[tuple[int, float]] = []

    def lines(step: int) -> Window:
        ids = _encode(make_lines(config.gap_at(step + 1), config.batch, rng), vocab)  # (batch, gap + 2)
        answer = torch.zeros(ids.shape[0], ids.shape[1] - 1, dtype=torch.bool)
        answer[:, -1] = True  # the loss counts the answer only: the fillers are noise by design
        return Window(ids[:, :-1], ids[:, 1:], answer)

    def stepped(s: Stepped) -> bool | None:
        curve.append((s.step, round(s.loss, 5)))
        return None if on_step is None else on_step(s.step, s.loss)

    fitted = fit(model, optimizer, lines, Loop(config.steps, clip=config.clip), on_step=stepped)
    steps, stopped = fitted.steps, fitted.reason == "hook"
    model.eval()
    ids = _encode(held_out_lines(config.gap, config.eval_lines), vocab)
    with torch.inference_mode():
        logits = _answer_logits(model, ids)
        accuracy = float((logits.argmax(-1) == ids[:, -1]).double().mean())
        eval_loss = float(F.cross_entropy(logits.double(), ids[:, -1]))
    return PointResult(
        config=config,
        accuracy=accuracy,
        eval_loss=round(eval_loss, 5),
        chance=CHANCE,
        parameters=model.num_parameters(),
        hidden=config.hidden,
        steps=steps,
        stopped=stopped,
        seconds=round(time.perf_counter() - started, 3),
        loss_curve=_thin(curve),
    )


def _worker_init() -> None:
    torch.set_num_threads(1)  # one process per core: threads inside would only fight


def _cost(config: LabConfig) -> float:
    """A rough relative run time, to start the longest points first."""
    return config.steps * (config.gap + 2) * _GATES[config.cell] ** 0.5


def grid_configs(
    gaps: Sequence[int],
    cells: Sequence[str],
    seeds: Sequence[int],
    steps: int = 600,
    **fields,
) -> list[LabConfig]:
    """Every (cell, gap, seed) point; `fields` are further LabConfig fields. forget_bias
    is given to the LSTM points only (the other cells have no forget gate)."""
    forget_bias = fields.pop("forget_bias", None)
    return [
        LabConfig(cell=cell, gap=gap, seed=seed, steps=steps, forget_bias=forget_bias if cell == "lstm" else None, **fields)
        for cell in cells
        for gap in gaps
        for seed in seeds
    ]


def run_configs(
    configs: Sequence[LabConfig],
    jobs: int = 2,
    on_result: Callable[[PointResult], None] | None = None,
) -> list[PointResult]:
    """Run lab points on `jobs` processes (spawned, one torch thread each); results in
    the order of `configs`. jobs=1 runs them here, in this process."""
    whole("jobs", jobs, 1, 256)
    results: dict[int, PointResult] = {}
    if jobs == 1:
        for index, config in enumerate(configs):
            results[index] = run_point(config)
            if on_result is not None:
                on_result(results[index])
    else:
        order = sorted(range(len(configs)), key=lambda i: -_cost(configs[i]))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_init) as pool:
            futures = {pool.submit(run_point, configs[i]): i for i in order}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_result is not None:
                    on_result(results[futures[future]])
    return [results[i] for i in range(len(configs))]


def run_grid(
    gaps: Sequence[int],
    cells: Sequence[str],
    seeds: Sequence[int],
    steps: int = 600,
    jobs: int = 2,
    on_result: Callable[[PointResult], None] | None = None,
    **fields,
) -> list[PointResult]:
    """Every cell x gap x seed, on `jobs` processes; `fields` are further LabConfig fields
    (forget_bias, curriculum, lr, batch, param_target, ...)."""
    return run_configs(grid_configs(gaps, cells, seeds, steps, **fields), jobs, on_result)


def summarize(results: Sequence[PointResult]) -> list[dict]:
    """One row per (cell, gap), in the order first seen: the accuracy of each seed and their mean."""
    rows: dict[tuple[str, int], dict] = {}
    for result in results:
        key = (result.config.cell, result.config.gap)
        row = rows.setdefault(key, {"cell": key[0], "gap": key[1], "seeds": [], "accuracies": []})
        row["seeds"].append(result.config.seed)
        row["accuracies"].append(result.accuracy)
    for row in rows.values():
        row["mean"] = round(sum(row["accuracies"]) / len(row["accuracies"]), 4)
    return list(rows.values())


# ---------------------------------------------------------------- shipped results


@dataclass(frozen=True)
class GridSpec:
    """One grid of the shipped results: what run_grid is called with."""

    gaps: tuple[int, ...]
    cells: tuple[str, ...] = tuple(CELLS)
    seeds: tuple[int, ...] = (0, 1)
    steps: int = 600
    forget_bias: float | None = None
    curriculum: bool = False
    note: str = ""

    def configs(self) -> list[LabConfig]:
        return grid_configs(self.gaps, self.cells, self.seeds, self.steps, forget_bias=self.forget_bias, curriculum=self.curriculum)


MAIN = GridSpec(gaps=(2, 5, 10, 20, 40, 80), note="the plain recipe: 600 steps, torch's default initialisation, no curriculum")

# The controls that change what a student sees, each next to the main grid's setting.
VARIANTS: dict[str, GridSpec] = {
    "more_seeds": GridSpec(
        gaps=MAIN.gaps, seeds=(2, 3, 4, 5),
        note="replication: the main grid with four more seeds",
    ),
    "lstm_forget_bias_1": GridSpec(
        gaps=(10, 20, 40), cells=("lstm",), forget_bias=1.0,
        note="initialisation: the LSTM's forget gate starts at bias 1 (mostly open), same 600 steps",
    ),
    "lstm_forget_bias_1_2000_steps": GridSpec(
        gaps=(10, 20, 40), cells=("lstm",), steps=2000, forget_bias=1.0,
        note="budget and initialisation: forget bias 1 and 2000 steps instead of 600",
    ),
    "rnn_2000_steps": GridSpec(
        gaps=(5, 10, 20), cells=("rnn",), steps=2000,
        note="budget: the tanh RNN with 2000 steps instead of 600",
    ),
    "curriculum": GridSpec(
        gaps=(20, 40, 80), curriculum=True,
        note="curriculum: the training gap grows from 1 to the target over the first 2/3 of the 600 steps",
    ),
}


def spec_record(spec: GridSpec, results: Sequence[PointResult], seconds: float) -> dict:
    """A grid as the results JSON keeps it: its config (with the settings every point
    shared, read from the points), every point, and the per (cell, gap) means."""
    first = results[0].config if results else LabConfig()
    shared = ("lr", "batch", "param_target", "hidden_size", "clip", "eval_lines")
    return {
        "config": {
            **asdict(spec),
            **{name: getattr(first, name) for name in shared},
            "hidden": {r.config.cell: r.hidden for r in results},
            "parameters": {r.config.cell: r.parameters for r in results},
        },
        "points": [r.to_dict() for r in results],
        "means": summarize(results),
        "point_seconds": round(seconds, 1),  # the points' own run times added up (not wall time)
    }


def machine_info(jobs: int) -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "jobs": jobs,
        "torch_threads_per_job": 1,
    }


def load_results(path: str | Path | None = None) -> dict:
    """The results JSON (by default the shipped one); ValueError when it is not one."""
    path = Path(path) if path is not None else DEFAULT_RESULTS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read lab results {path}: {error}") from error
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path} is not a {RESULTS_FORMAT} file")
    return data


def results_text(data: dict) -> str:
    """The results as JSON text: indented, but one line per point (its loss curve is long)."""
    compact: dict[str, str] = {}

    def mark(record: dict) -> dict:
        points = []
        for point in record["points"]:
            key = f"@point{len(compact)}@"
            compact[key] = json.dumps(point, ensure_ascii=False, separators=(",", ":"))
            points.append(key)
        return {**record, "points": points}

    marked = {**data, "main": mark(data["main"]), "variants": {k: mark(v) for k, v in data["variants"].items()}}
    text = json.dumps(marked, indent=1, ensure_ascii=False)
    for key, line in compact.items():
        text = text.replace(f'"{key}"', line, 1)
    return text + "\n"


def format_table(means: Sequence[dict]) -> str:
    """A text table: one row per cell, one column per gap, the mean accuracy (each seed's in brackets)."""
    cells = list(dict.fromkeys(row["cell"] for row in means))
    gaps = sorted({row["gap"] for row in means})
    by_key = {(row["cell"], row["gap"]): row for row in means}
    cell_text = {
        key: f"{row['mean']:.2f} ({'/'.join(f'{a:.2f}' for a in row['accuracies'])})" for key, row in by_key.items()
    }
    width = max(len(text) for text in cell_text.values()) + 2 if cell_text else 8
    lines = ["cell  " + "".join(f"L={gap}".rjust(width) for gap in gaps)]
    for cell in cells:
        lines.append(f"{cell:<6}" + "".join(cell_text.get((cell, gap), "-").rjust(width) for gap in gaps))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m charmodels.lab",
        description="Accuracy against gap length for RNN, LSTM and GRU at matched parameter counts.",
    )
    parser.add_argument("--out", type=Path, default=Path("charmodels/data/ltd_results.json"), help="results JSON to write")
    parser.add_argument("--gaps", type=int, nargs="+", default=list(MAIN.gaps))
    parser.add_argument("--cells", nargs="+", default=list(MAIN.cells), choices=list(CELLS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(MAIN.seeds), help="seed values, e.g. 0 1")
    parser.add_argument("--steps", type=int, default=MAIN.steps)
    parser.add_argument("--jobs", type=int, default=2, help="processes")
    parser.add_argument("--forget-bias", type=float, default=None, help="LSTM forget-gate bias at the start")
    parser.add_argument("--curriculum", action="store_true", help="train on gaps growing to the target")
    parser.add_argument("--no-variants", action="store_true", help="run the main grid only, not the shipped variants")
    args = parser.parse_args(argv)

    try:
        main_spec = GridSpec(tuple(args.gaps), tuple(args.cells), tuple(args.seeds), args.steps,
                             args.forget_bias, args.curriculum, note="command-line grid")
        if main_spec == replace(MAIN, note=main_spec.note):
            main_spec = MAIN
        specs = {"main": main_spec, **({} if args.no_variants else VARIANTS)}
        configs = {name: spec.configs() for name, spec in specs.items()}
    except ValueError as error:
        parser.error(str(error))

    torch.set_num_threads(1)  # as in the workers: --jobs 1 then gives the same numbers, fastest
    started = time.perf_counter()
    total = sum(len(c) for c in configs.values())
    done = 0

    def report(result: PointResult) -> None:
        nonlocal done
        done += 1
        c = result.config
        print(f"[{done}/{total}] {c.cell:<4} L={c.gap:<3} seed={c.seed} steps={c.steps}"
              f"{' fb=' + str(c.forget_bias) if c.forget_bias is not None else ''}"
              f"{' curriculum' if c.curriculum else ''}: accuracy {result.accuracy:.3f} ({result.seconds:.1f} s)",
              flush=True)

    # all points of all grids share one pool, longest first
    flat = [config for name in specs for config in configs[name]]
    results = run_configs(flat, args.jobs, report)
    records, offset = {}, 0
    for name, spec in specs.items():
        part = results[offset : offset + len(configs[name])]
        offset += len(configs[name])
        records[name] = spec_record(spec, part, sum(r.seconds for r in part))
    seconds = time.perf_counter() - started

    data = {
        "format": RESULTS_FORMAT,
        "version": RESULTS_VERSION,
        "task": {
            "first": FIRST, "filler": FILLER, "chance": CHANCE,
            "loss": "cross-entropy at the answer (last) position only",
            "accuracy": "argmax over the whole vocabulary at the answer position, on fixed held-out lines",
        },
        "command": "python -m charmodels.lab " + " ".join(sys.argv[1:] if argv is None else argv),
        "main": records["main"],
        "variants": {name: records[name] for name in specs if name != "main"},
        "machine": machine_info(args.jobs),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "total_seconds": round(seconds, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(results_text(data), encoding="utf-8")
    os.replace(tmp, args.out)

    for name, record in records.items():
        spec = specs[name]
        print(f"\n{name}: {spec.note}")
        print(format_table(record["means"]))
    print(f"\nwall time {seconds:.0f} s on {args.jobs} process(es); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
