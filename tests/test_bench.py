"""The benchmark entry point runs and writes the rows it promises (numbers are not judged)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from bench import cold_start, generation

ROOT = Path(__file__).resolve().parent.parent
CELLS = ("rnn", "lstm", "gru")
# One intra-op thread: on a busy two-core machine torch's default two threads thrash (measured 100x slower),
# and this test checks the rows, not the speed.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
KEYS = {"name", "value", "unit", "baseline", "ratio", "target", "meets_target", "notes"}


def test_generation_quick_writes_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "generation", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=ONE_THREAD,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "generation.lstm.chars_per_s" in done.stdout  # the table is printed

    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["quick"] is True and result["benchmarks"] == ["generation"]
    assert result["cpu_count"] >= 1 and result["torch_version"] and result["date"]
    rows = {r["name"]: r for r in result["rows"]}
    assert all(set(r) == KEYS for r in rows.values())

    for cell in CELLS:
        speed = rows[f"generation.{cell}.chars_per_s"]
        for key in ("value", "baseline", "ratio"):
            number = speed[key]
            assert isinstance(number, (int, float)) and not isinstance(number, bool), (cell, key, number)
            assert math.isfinite(number) and number > 0, (cell, key, number)
        assert speed["unit"] == "chars/s"
        assert math.isclose(speed["ratio"], speed["value"] / speed["baseline"], rel_tol=0.01)
        assert speed["meets_target"] is (speed["ratio"] >= generation.TARGET)  # judged by the target it states
        assert rows[f"generation.{cell}.identical_text"]["value"] is True, rows[f"generation.{cell}.identical_text"]

    threads = rows["generation.torch_threads"]["value"]
    assert isinstance(threads, int) and threads >= 1


def test_app_benchmarks_quick_write_their_rows(tmp_path: Path) -> None:
    """cold_start and app_latency start real servers on 127.0.0.1 (about 30 s quick)."""
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "cold_start", "app_latency", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["benchmarks"] == ["cold_start", "app_latency"]
    rows = {r["name"]: r for r in result["rows"]}
    assert all(set(r) == KEYS for r in rows.values())

    for name in ("cold_start.app.first_page_s", "app_latency.next_chars.c1.p50_ms", "app_latency.next_chars.c8.p50_ms"):
        timed = rows[name]
        for key in ("value", "baseline", "ratio"):
            number = timed[key]
            assert isinstance(number, (int, float)) and not isinstance(number, bool), (name, key, number)
            assert math.isfinite(number) and number > 0, (name, key, number)
    extra = rows["cold_start.app_extra_s"]
    assert extra["meets_target"] is (extra["value"] <= cold_start.TARGET_EXTRA)  # judged by the target it states
    assert isinstance(rows["cold_start.app.torch_before_page"]["value"], bool)
    for clients in (1, 8):  # every request answered, by the app and by the no-op
        errors = rows[f"app_latency.next_chars.c{clients}.errors"]
        assert errors["value"] == 0 and errors["baseline"] == 0, errors
    assert rows["app_latency.generate.identical_text"]["value"] is True, rows["app_latency.generate.identical_text"]
    assert rows["app_latency.generate.total_s"]["value"] > 0
