"""Benchmark suite: each figure with a baseline measured in the same process, and their ratio.

    python benchmarks/run.py [--quick] [--json FILE] [--only NAME ...]

Each benchmark runs in a fresh child process so its peak memory is its own. `--quick` runs at a
tenth of the scale. Prints a table and writes a list of
{"name", "value", "unit", "baseline", "ratio", "peak_mb", "note"} rows as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.synthetic import synthetic_queries, write_jsonl  # noqa: E402

BENCHMARKS: dict[str, Callable[[int, Path], list[dict]]] = {}


def benchmark(function: Callable[[int, Path], list[dict]]) -> Callable[[int, Path], list[dict]]:
    BENCHMARKS[function.__name__] = function
    return function


def row(name: str, value: float, baseline: float, unit: str = "s", note: str = "") -> dict:
    return {"name": name, "value": round(value, 4), "unit": unit, "baseline": round(baseline, 4),
            "ratio": round(value / baseline, 2) if baseline else None, "note": note}


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


@benchmark
def import_queries(n: int, workdir: Path) -> list[dict]:
    """`import` of n JSONL queries vs a bare sqlite3 executemany of the same rows, already prepared."""
    from curation_app import database
    from curation_app.core.auth import command_line_actor
    from curation_app.core.importer import import_file

    rows = synthetic_queries(n, seed=1)
    path = write_jsonl(rows, workdir / "queries.jsonl")
    prepared = [(r["id"], hashlib.sha256(r["messages"][0]["content"].encode()).hexdigest(),
                 json.dumps(r["messages"]), "bench", json.dumps({"language": r["language"]})) for r in rows]
    bare = sqlite3.connect(workdir / "bare.sqlite")
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("CREATE TABLE q (id INTEGER PRIMARY KEY, public_id TEXT UNIQUE, content_hash TEXT UNIQUE, "
                 "messages TEXT, source TEXT, extra TEXT)")

    def bare_insert() -> None:
        bare.executemany("INSERT INTO q (public_id, content_hash, messages, source, extra) VALUES (?, ?, ?, ?, ?)",
                         prepared)
        bare.commit()

    baseline = timed(bare_insert)
    url = f"sqlite:///{workdir / 'app.sqlite'}"
    database.upgrade(url)
    engine = database.get_engine(url)
    value = timed(lambda: import_file(path, actor=command_line_actor(), engine=engine))
    size_mb = path.stat().st_size / 1e6
    return [row(f"import {n:,} queries (JSONL, {size_mb:.0f} MB) vs bare sqlite3 executemany", value, baseline,
                note="parsing, shape detection, normalising, hashing, dedup, provenance, one transaction")]


def run_one(name: str, n: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
        rows = BENCHMARKS[name](n, Path(workdir))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for item in rows:
        item["peak_mb"] = round(peak_mb)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the scale")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = 10_000 if args.quick else 100_000
    if args.child:
        print(json.dumps(run_one(args.child, n)))
        return 0
    results: list[dict] = []
    print(f"{'benchmark':<96} {'value':>10} {'baseline':>10} {'ratio':>7} {'peak MB':>8}")
    for name in args.only or list(BENCHMARKS):
        child = subprocess.run([sys.executable, __file__, "--child", name] + (["--quick"] if args.quick else []),
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        if child.returncode != 0:
            print(f"{name}: failed\n{child.stderr[-3000:]}", file=sys.stderr)
            return 1
        for item in json.loads(child.stdout.strip().splitlines()[-1]):
            results.append(item)
            print(f"{item['name'][:96]:<96} {item['value']:>9}{item['unit']:<1} {item['baseline']:>9}{item['unit']:<1} "
                  f"{item['ratio']:>7} {item['peak_mb']:>8}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
