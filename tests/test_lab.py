"""The long-term-dependency lab: the task's lines, the config's checks, matched parameter
counts, determinism, learning at a short gap, stopping, and the shipped results file."""

from __future__ import annotations

import random

import pytest
import torch

from charmodels import lab
from charmodels.lab import FILLER, FIRST, LabConfig, make_lines, run_point

CELLS = ["rnn", "lstm", "gru"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These models are tiny: one thread runs them fastest, and two threads on a busy
    two-core machine were measured 100x slower (spinning threads fighting for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("gap", [0, 1, 5, 80])
def test_make_lines_repeat_the_first_letter_after_gap_fillers(gap):
    lines = make_lines(gap, 200, random.Random(3))
    assert len(lines) == 200
    for line in lines:
        assert len(line) == gap + 2
        assert line[0] in FIRST and line[-1] == line[0]
        assert set(line[1:-1]) <= set(FILLER)
    assert {line[0] for line in lines} == set(FIRST)  # both letters occur
    if gap >= 5:
        assert set("".join(line[1:-1] for line in lines)) == set(FILLER)


def test_make_lines_is_seeded_and_can_be_balanced():
    assert make_lines(7, 20, random.Random(1)) == make_lines(7, 20, random.Random(1))
    assert make_lines(7, 20, random.Random(1)) != make_lines(7, 20, random.Random(2))
    balanced = make_lines(3, 10, random.Random(0), balanced=True)
    assert [line[0] for line in balanced] == list("ababababab")
    held_out = lab.held_out_lines(10)
    assert held_out == lab.held_out_lines(10) and len(held_out) == 512
    assert sum(line[0] == "a" for line in held_out) == 256


@pytest.mark.parametrize(
    "fields, word",
    [
        ({"cell": "transformer"}, "rnn, lstm, gru"),
        ({"gap": 0}, "gap"),
        ({"gap": 5000}, "gap"),
        ({"gap": 2.5}, "gap"),
        ({"seed": -1}, "seed"),
        ({"steps": 0}, "steps"),
        ({"steps": True}, "steps"),
        ({"lr": 0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch": 0}, "batch"),
        ({"cell": "gru", "forget_bias": 1.0}, "LSTM only"),
        ({"forget_bias": float("inf")}, "forget_bias"),
        ({"curriculum": "yes"}, "curriculum"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"clip": -1.0}, "clip"),
        ({"param_target": 10}, "param_target"),
    ],
)
def test_lab_config_rejects_bad_values_with_a_clear_message(fields, word):
    with pytest.raises(ValueError, match=word):
        LabConfig(**fields)


def test_lab_config_defaults_and_curriculum_schedule():
    config = LabConfig()
    assert (config.steps, config.lr, config.batch, config.forget_bias, config.curriculum) == (600, 3e-3, 64, None, False)
    assert LabConfig(cell="lstm", forget_bias=1.0).forget_bias == 1.0
    assert all(config.gap_at(step) == config.gap for step in (1, 300, 600))
    grow = LabConfig(gap=40, steps=600, curriculum=True)
    gaps = [grow.gap_at(step) for step in range(1, 601)]
    assert gaps[0] == 1 and gaps[-1] == 40 and gaps == sorted(gaps)
    assert gaps[int(600 * lab.CURRICULUM_SHARE)] == 40  # the last third trains on the target


def test_parameter_counts_match_across_cells():
    counts = {}
    for cell in CELLS:
        config = LabConfig(cell=cell)
        model = lab.build_model(config)
        counts[cell] = model.num_parameters()
        assert counts[cell] == lab.count_parameters(cell, config.hidden)
        assert model.rnn.input_size == len(lab.VOCAB_CHARS)  # one-hot input
        assert model.head.out_features == len(lab.VOCAB_CHARS)  # the same head
        assert abs(counts[cell] - config.param_target) <= 0.05 * config.param_target
    assert max(counts.values()) <= 1.1 * min(counts.values())


def test_forget_bias_sets_the_whole_forget_gate_bias():
    model = lab.build_model(LabConfig(cell="lstm", forget_bias=1.0))
    h = model.config.hidden_size
    total = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0  # gates: input, forget, cell, output
    assert torch.equal(total[h : 2 * h], torch.ones(h))
    default = lab.build_model(LabConfig(cell="lstm"))
    assert not torch.equal((default.rnn.bias_ih_l0 + default.rnn.bias_hh_l0)[h : 2 * h], torch.ones(h))


def test_same_seed_same_numbers():
    config = LabConfig(cell="gru", gap=3, steps=30, batch=16, eval_lines=64, seed=4)
    first, second = run_point(config), run_point(config)
    assert first.accuracy == second.accuracy
    assert first.eval_loss == second.eval_loss
    assert first.loss_curve == second.loss_curve
    other = run_point(LabConfig(cell="gru", gap=3, steps=30, batch=16, eval_lines=64, seed=5))
    assert other.loss_curve != first.loss_curve


@pytest.mark.parametrize("cell", CELLS)
def test_a_short_gap_is_learned_well_above_chance(cell):
    # 80 steps already reached 100% for 8 seeds of 8 for every cell; 120 leaves a margin
    result = run_point(LabConfig(cell=cell, gap=2, steps=120, seed=0))
    assert result.chance == 0.5
    assert result.accuracy >= 0.9, result.accuracy
    assert result.steps == 120 and not result.stopped
    assert 0 < len(result.loss_curve) <= lab.CURVE_POINTS
    assert result.loss_curve[0][0] == 1 and result.loss_curve[-1][0] == 120
    assert result.parameters == lab.count_parameters(cell, result.hidden)


def test_loss_curve_is_thinned_to_at_most_100_points():
    result = run_point(LabConfig(cell="rnn", gap=1, steps=130, batch=4, eval_lines=8))
    steps = [step for step, _ in result.loss_curve]
    assert len(steps) <= lab.CURVE_POINTS and steps == sorted(steps)
    assert steps[0] == 1 and steps[-1] == 130
    long = [(step, 0.0) for step in range(1, 2001)]
    thinned = lab._thin(long)
    assert len(thinned) == lab.CURVE_POINTS and thinned[0] == (1, 0.0) and thinned[-1] == (2000, 0.0)


def test_on_step_returning_false_stops_the_run():
    seen = []

    def on_step(step, loss):
        seen.append((step, loss))
        return False if step == 5 else None

    result = run_point(LabConfig(cell="lstm", gap=4, steps=500, batch=8, eval_lines=16), on_step)
    assert [step for step, _ in seen] == [1, 2, 3, 4, 5]
    assert all(isinstance(loss, float) and loss > 0 for _, loss in seen)
    assert result.stopped and result.steps == 5
    assert result.loss_curve[-1][0] == 5
    assert 0 <= result.accuracy <= 1


def test_run_grid_in_two_processes_matches_a_run_here():
    results = lab.run_grid([1], ["rnn", "gru"], [0], steps=5, jobs=2, batch=4, eval_lines=8)
    assert [(r.config.cell, r.config.gap, r.config.seed) for r in results] == [("rnn", 1, 0), ("gru", 1, 0)]
    here = run_point(results[1].config)
    assert here.accuracy == results[1].accuracy
    # the same steps and, up to float rounding (BLAS threads may differ between processes), the same losses
    assert [step for step, _ in here.loss_curve] == [step for step, _ in results[1].loss_curve]
    assert [loss for _, loss in here.loss_curve] == pytest.approx([loss for _, loss in results[1].loss_curve], abs=1e-4)
    # forget_bias reaches the LSTM points only
    configs = lab.grid_configs([2], CELLS, [0], forget_bias=1.0)
    assert [c.forget_bias for c in configs] == [None, 1.0, None]


def _check_grid(record: dict) -> None:
    config = record["config"]
    keys = {(cell, gap) for cell in config["cells"] for gap in config["gaps"]}
    assert {(row["cell"], row["gap"]) for row in record["means"]} == keys
    points = {(p["config"]["cell"], p["config"]["gap"], p["config"]["seed"]) for p in record["points"]}
    assert points == {(cell, gap, seed) for cell, gap in keys for seed in config["seeds"]}
    for row in record["means"]:
        assert len(row["accuracies"]) == len(config["seeds"])
        assert all(0 <= a <= 1 for a in row["accuracies"])
        assert row["mean"] == pytest.approx(sum(row["accuracies"]) / len(row["accuracies"]), abs=1e-4)
    for point in record["points"]:
        assert 0 <= point["accuracy"] <= 1 and point["chance"] == 0.5
        assert point["config"]["steps"] == config["steps"] and not point["stopped"]
        assert len(point["loss_curve"]) <= lab.CURVE_POINTS


def test_shipped_results_cover_their_own_config():
    data = lab.load_results()
    assert data["format"] == lab.RESULTS_FORMAT and data["version"] == lab.RESULTS_VERSION
    for key in ("machine", "date", "total_seconds", "command"):
        assert data[key]
    _check_grid(data["main"])
    assert set(data["main"]["config"]["cells"]) == set(CELLS)
    assert data["variants"], "at least one variant that shows the controls matter"
    for record in data["variants"].values():
        _check_grid(record)
    # the shipped file is package data
    text = (lab.DEFAULT_RESULTS.parent.parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"data/*.json"' in text


def test_command_line_writes_a_results_file(tmp_path, run_python):
    out = tmp_path / "ltd.json"
    args = ["--gaps", "1", "2", "--cells", "rnn", "lstm", "--seeds", "0", "--steps", "3", "--jobs", "1"]
    done = run_python("-m", "charmodels.lab", "--out", out, *args, "--forget-bias", "1", "--no-variants")
    assert done.returncode == 0, done.stderr
    assert "L=2" in done.stdout  # the table
    data = lab.load_results(out)
    _check_grid(data["main"])
    assert data["variants"] == {}
    assert data["main"]["config"]["forget_bias"] == 1.0
    assert [p["config"]["forget_bias"] for p in data["main"]["points"]] == [None, None, 1.0, 1.0]
    bad = run_python("-m", "charmodels.lab", "--out", out, "--gaps", "0", "--no-variants")
    assert bad.returncode == 2 and "gap must be" in bad.stderr


def test_load_results_rejects_a_file_that_is_not_one(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ValueError, match="not a"):
        lab.load_results(path)
    with pytest.raises(ValueError, match="cannot read"):
        lab.load_results(tmp_path / "missing.json")


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_shipped_lab_point_is_reproduced(cell):
    """The Memory lab shows shipped numbers: re-running one point gives them again (on one thread,
    as the lab ran). Accuracy and held-out loss exactly; the training curve to its 5 stored
    decimals, give or take the last one (the file was made on another machine)."""
    torch.set_num_threads(1)
    shipped = next(
        p for p in lab.load_results()["main"]["points"] if p["config"]["cell"] == cell and p["config"]["gap"] == 5 and p["config"]["seed"] == 0
    )
    result = run_point(LabConfig(cell=cell, gap=5, seed=0, steps=shipped["config"]["steps"]))
    assert result.accuracy == shipped["accuracy"]
    assert result.eval_loss == shipped["eval_loss"]
    assert [step for step, _ in result.loss_curve] == [step for step, _ in shipped["loss_curve"]]
    assert [loss for _, loss in result.loss_curve] == pytest.approx([loss for _, loss in shipped["loss_curve"]], abs=2e-5)
