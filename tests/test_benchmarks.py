"""The benchmark command keeps working (figures are reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def test_quick_benchmarks_write_rows_with_baselines(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run([sys.executable, "benchmarks/run.py", "--quick", "--only", "import_queries",
                             "agreement_alpha", "import_memory", "--json", str(out)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [r["name"].split(" ")[0] for r in rows] == ["import", "nominal", "full", "full", "peak"]
    for row in rows:
        assert {"name", "value", "unit", "baseline", "ratio", "peak_mb"} <= set(row)
        assert row["value"] > 0 and row["baseline"] > 0
        assert row["ratio"] == pytest.approx(row["value"] / row["baseline"], rel=0.05, abs=0.01)  # rounded figures
    assert "same value" in rows[1]["note"]  # alpha equals the krippendorff package's
    assert rows[-1]["unit"] == "MB" and "from JSONL" in rows[-1]["note"]
