"""The classroom benchmark's quick mode against the real app (python -m bench classroom --quick:
4 students for 20 s on the app, then on the no-op; about a minute and a half)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"name", "value", "unit", "baseline", "ratio", "target", "meets_target", "notes"}


def test_classroom_quick_writes_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "classroom", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r["name"]: r for r in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    assert all(set(r) == KEYS for r in rows.values())
    for action in ("key", "generate", "generate_first", "inside"):
        for p in (50, 99):
            timed = rows[f"classroom.{action}.p{p}_ms"]
            for key in ("value", "baseline", "ratio"):
                assert isinstance(timed[key], (int, float)) and math.isfinite(timed[key]) and timed[key] > 0, (action, p, timed)
    errors = rows["classroom.errors"]
    assert errors["meets_target"] is (errors["value"] == 0) and errors["value"] == 0, errors  # every action answered
    assert rows["classroom.refusals"]["value"] == 0, rows["classroom.refusals"]  # one trainer: nothing to refuse
    assert rows["classroom.trainings_done"]["value"] == 1, rows["classroom.trainings_done"]
    assert rows["classroom.lab.seconds"]["value"] > 0
    assert rows["classroom.peak_rss_mb"]["value"] > rows["classroom.peak_rss_mb"]["baseline"] > 0
