"""bench/inside.py --quick writes its rows: the Inside live update beside the bars, in process and over HTTP."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_inside_benchmark_quick_writes_its_rows(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "bench", "inside", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=400, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["benchmarks"] == ["inside"]
    rows = {r["name"]: r for r in result["rows"]}
    for name in ("inside.goethe-lstm.live_update_ms", "inside.goethe-gru.live_update_ms", "inside.goethe-rnn.live_update_ms",
                 "inside.http.next_chars_with_live_inside_ms", "inside.http.next_chars_app_alone_ms"):
        for key in ("value", "baseline", "ratio"):
            number = rows[name][key]
            assert isinstance(number, (int, float)) and math.isfinite(number) and number > 0, (name, key, number)
    live = rows["inside.goethe-lstm.live_update_ms"]
    assert live["meets_target"] is (live["value"] <= 50.0)  # judged by the target it states, never a failure here
    http = rows["inside.http.next_chars_with_live_inside_ms"]
    assert http["meets_target"] is (http["value"] - http["baseline"] <= 10.0)
    assert rows["inside.http.live_update_ms"]["value"] > 0
