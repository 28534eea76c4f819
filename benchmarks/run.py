"""Benchmark suite: each figure with a baseline measured in the same process, and their ratio.

    python benchmarks/run.py [--quick] [--json FILE] [--only NAME ...]

Each benchmark runs in a fresh child process so its peak memory is its own; the `scale:` rows run
the measured step in a process of its own again and report that process's peak. `--quick` runs
at a tenth of the scale. Prints a table and writes a list of
{"name", "value", "unit", "baseline", "ratio", "peak_mb", "note"} rows as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
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


# The last line a fresh child process prints: its own peak in kB. VmHWM, not ru_maxrss, which
# Linux carries over exec from the process that started it.
PRINT_OWN_PEAK_KB = "print(next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')))"


def row(name: str, value: float, baseline: float, unit: str = "s", note: str = "") -> dict:
    # Four significant figures: a sub-millisecond figure keeps its precision, and so does its ratio.
    return {"name": name, "value": float(f"{value:.4g}"), "unit": unit, "baseline": float(f"{baseline:.4g}"),
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


@benchmark
def annotations_import(n: int, workdir: Path) -> list[dict]:
    """`annotations import` of n / 5 rows (4 annotators per query): the longest it holds SQLite's
    write lock vs a bare sqlite3 executemany of the same rows; the note gives the whole import."""
    import csv

    from sqlalchemy import event

    from curation_app import database
    from curation_app.core import annotation_io
    from curation_app.core.auth import command_line_actor
    from curation_app.core.importer import import_file

    annotators = [f"annotator{i}" for i in range(4)]
    queries = synthetic_queries(n // 5 // len(annotators), seed=3)
    labels = [{"query_id": q["id"], "annotator": name, "decision": "keep", "reject_reason": "",
               "category": "Development and Programming", "subcategory": "Code Debugging",
               "languages": q["language"] if q["language"] in ("python", "javascript", "sql") else "python",
               "difficulty": "medium", "rewritten_prompt": "", "reference_answer": "Use a set, not a list.",
               "notes": ""} for q in queries for name in annotators]
    path = workdir / "labels.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=annotation_io.COLUMNS)
        writer.writeheader()
        writer.writerows(labels)

    bare = sqlite3.connect(workdir / "bare.sqlite")
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, query_id INTEGER, annotator_id INTEGER, state TEXT, "
                 "decision TEXT, category TEXT, subcategory TEXT, languages TEXT, difficulty TEXT, "
                 "reference_answer TEXT, UNIQUE (query_id, annotator_id))")
    prepared = [(index // len(annotators), index % len(annotators), "submitted", r["decision"], r["category"],
                 r["subcategory"], json.dumps([r["languages"]]), r["difficulty"], r["reference_answer"])
                for index, r in enumerate(labels)]

    def bare_insert() -> None:
        bare.executemany("INSERT INTO a (query_id, annotator_id, state, decision, category, subcategory, languages, "
                         "difficulty, reference_answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", prepared)
        bare.commit()

    baseline = timed(bare_insert)
    url = f"sqlite:///{workdir / 'app.sqlite'}"
    database.upgrade(url)
    engine = database.get_engine(url)
    actor = command_line_actor()
    import_file(write_jsonl(queries, workdir / "queries.jsonl"), actor=actor, source="bench", engine=engine)
    holds: list[float] = []
    began: dict[int, float] = {}

    # Each write transaction from its BEGIN IMMEDIATE to its end; read_scope's deferred ones take no lock.
    @event.listens_for(engine, "begin")
    def _began(connection) -> None:  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get("curation_transaction", "IMMEDIATE") != "DEFERRED":
            began[id(connection)] = time.perf_counter()

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ended(connection) -> None:  # type: ignore[no-untyped-def]
        start = began.pop(id(connection), None)
        if start is not None:
            holds.append(time.perf_counter() - start)

    total = timed(lambda: annotation_io.import_annotations(path, actor=actor, engine=engine))
    return [row(f"annotations import of {len(labels):,} rows: longest write-lock hold vs bare sqlite3 executemany",
                max(holds), baseline,
                note=f"the whole import {total:.2f} s in {len(holds)} write transaction(s); reading, checking "
                     "and look-ups run outside the lock, so annotators' saves wait at most the hold")]


def _annotate_loop(engine, user, rounds: int) -> tuple[float, float]:
    """Mean seconds of the database work behind next item and behind submit, over `rounds` items."""
    from curation_app.core import annotate, queue
    from curation_app.database import session_scope

    fields = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
              "languages": ["python"], "difficulty": "medium", "reference_answer": "Use a set."}
    next_times, submit_times = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        with session_scope(engine) as session:
            reservation = queue.next_item(session, actor=user)
        next_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        with session_scope(engine) as session:
            annotate.save(session, actor=user, public_id=reservation.public_id, fields=fields, submit=True,
                          suggested_languages=[])
        submit_times.append(time.perf_counter() - start)
    middle = lambda values: sorted(values)[len(values) // 2]  # noqa: E731 - the median resists noise
    return middle(next_times), middle(submit_times)


def _bench_user(engine):  # type: ignore[no-untyped-def]
    from sqlmodel import Session, select

    from curation_app.models import User

    with Session(engine) as session:
        return session.exec(select(User).where(User.name == "bench")).one()


@benchmark
def annotate_next_and_submit(n: int, workdir: Path) -> list[dict]:
    """Next item and submit at n queries (3 annotations each) vs the same at 1,000 queries."""
    from benchmarks.synthetic import populate

    rounds, n_open = 200, 400
    figures = {}
    for size in (1_000, n):
        info = populate(f"sqlite:///{workdir / f'annotate-{size}.sqlite'}", n_queries=size, n_open=n_open,
                        workdir=workdir)
        figures[size] = (_annotate_loop(info["engine"], _bench_user(info["engine"]), rounds), info["n_annotations"])
    (small_next, small_submit), _ = figures[1_000]
    (large_next, large_submit), n_annotations = figures[n]
    label = f"{n:,} queries / {n_annotations:,} annotations vs 1,000 queries"
    return [row(f"next item, database work (median), {label}", large_next * 1000, small_next * 1000, "ms"),
            row(f"submit, database work (median), {label}", large_submit * 1000, small_submit * 1000, "ms")]


@benchmark
def annotate_page_rerun(n: int, workdir: Path) -> list[dict]:
    """A full AppTest rerun of the annotate page at n queries vs at 1,000 queries."""
    import statistics

    from streamlit.testing.v1 import AppTest

    from benchmarks.synthetic import populate
    from curation_app.core import auth
    from curation_app.database import session_scope

    figures = {}
    for size in (1_000, n):
        url = f"sqlite:///{workdir / f'page-{size}.sqlite'}"
        info = populate(url, n_queries=size, n_open=50, workdir=workdir)
        os.environ["CURATION_DATABASE_URL"] = url
        with session_scope(info["engine"]) as session:
            token = auth.start_login_session(session, user=_bench_user(info["engine"]))
        app = AppTest.from_file(str(REPO_ROOT / "curation_app" / "app.py"), default_timeout=120)
        app.session_state["token"] = token  # what the login cookie gives a real browser
        app.run()
        assert not app.exception, app.exception
        assert app.query_params.get("item"), "the benchmark annotator should have an item open"
        times = []
        for _ in range(15):
            times.append(timed(app.run))
        figures[size] = statistics.median(times)
    return [row(f"annotate page rerun (AppTest, median of 15), {n:,} queries vs 1,000", figures[n] * 1000,
                figures[1_000] * 1000, "ms")]


_EMPTY_PAGE = """import streamlit as st
st.session_state.setdefault("clicks", 0)
if st.button("Again"):
    st.session_state["clicks"] += 1
st.write(f"clicks {st.session_state['clicks']}")
"""

# Counts the messages the browser sends the server (each a request for a script run) and times,
# inside the page, from a key or click to the moment the page shows its answer.
_WATCH_SOCKET = """() => {
  if (window.__benchSent !== undefined) return;
  window.__benchSent = 0;
  window.__benchReceived = 0;  // bytes from the server
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (...args) { window.__benchSent += 1; return send.apply(this, args); };
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const socket = new Native(...args);
    socket.addEventListener("message", (e) => {
      window.__benchReceived += e.data.byteLength || e.data.size || e.data.length || 0;
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) window.WebSocket[name] = Native[name];
}"""


def _serve(command: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*command, "--server.headless", "true", "--server.port", str(port),
                                "--server.address", "127.0.0.1"], cwd=REPO_ROOT, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, base
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{command} did not start")


@benchmark
def annotate_in_chromium(n: int, workdir: Path) -> list[dict]:
    """The annotate page in headless Chromium, nine fully labelled items typed from the keyboard
    without waiting: messages the browser sent the server per item, and milliseconds from submit to
    the next item shown, each against an empty Streamlit page's click round trip in the same run."""
    import signal
    import statistics

    from playwright.sync_api import sync_playwright

    from curation_app.cli.web import APP_PATH, STREAMLIT_OPTIONS

    from curation_app import database
    from curation_app.core import auth, queue
    from curation_app.core.demo import DEMO_QUERIES
    from curation_app.core.importer import import_file

    url = f"sqlite:///{workdir / 'chromium.sqlite'}"
    database.upgrade(url)
    engine = database.get_engine(url)
    actor = auth.command_line_actor()
    with database.session_scope(engine) as session:
        auth.create_user(session, actor=actor, name="bench", role="annotator", password="bench-password")
    import_file(DEMO_QUERIES, actor=actor, source="demo", engine=engine)
    with database.session_scope(engine) as session:
        queue.assign(session, actor=actor)  # all to the pool
    (workdir / "empty.py").write_text(_EMPTY_PAGE)
    # Both served as `python -m curation_app serve` serves the app, with the same Streamlit options.
    servers = [_serve([sys.executable, "-m", "streamlit", "run", str(workdir / "empty.py"), *STREAMLIT_OPTIONS], {}),
               _serve([sys.executable, "-m", "streamlit", "run", str(APP_PATH), *STREAMLIT_OPTIONS],
                      {"CURATION_DATABASE_URL": url})]
    chromium = os.environ.get("CURATION_CHROMIUM", "/usr/bin/chromium")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=args)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.add_init_script(f"({_WATCH_SOCKET})()")

            # The empty page: one click, one round trip, timed until its answer is drawn.
            page.goto(servers[0][1])
            page.get_by_text("clicks 0").wait_for()
            empty_ms, empty_sent = [], []
            for click in range(1, 16):
                sent = page.evaluate("window.__benchSent")
                start = page.evaluate("performance.now()")
                page.get_by_role("button", name="Again").click()
                page.wait_for_function(f"() => document.body.innerText.includes('clicks {click}')", polling="raf")
                empty_ms.append(page.evaluate("performance.now()") - start)
                empty_sent.append(page.evaluate("window.__benchSent") - sent)

            page.goto(servers[1][1])
            page.get_by_role("textbox", name="User name").fill("bench")
            page.get_by_role("textbox", name="Password").fill("bench-password")
            page.get_by_role("button", name="Log in").click()
            page.locator(".label-form [data-item]").wait_for()
            page.wait_for_timeout(1000)  # the first page load settled
            item_ms, item_sent, item_bytes = [], [], []
            keys = page.keyboard
            query = "() => (document.querySelector(\"[data-testid='stChatMessage']\") || {}).innerText"
            for _ in range(9):
                item = page.evaluate("window.__curationLabelForm.item")
                shown = page.evaluate(query)
                sent, received = page.evaluate("[window.__benchSent, window.__benchReceived]")
                keys.press("Alt+K")
                keys.press("Alt+C")
                keys.type("crypt")
                keys.press("Enter")
                keys.press("Alt+L")
                keys.type("rust")
                keys.press("Enter")
                keys.press("Escape")
                keys.press("Alt+2")
                start = page.evaluate("performance.now()")
                keys.press("Control+Enter")
                # Shown: the next item's query drawn, and its label form ready for keys.
                page.wait_for_function(
                    f"() => {{ const s = window.__curationLabelForm; return s.item !== {json.dumps(item)} && !s.busy "
                    f"&& ({query})() !== {json.dumps(shown)}; }}", polling="raf")
                item_ms.append(page.evaluate("performance.now()") - start)
                page.wait_for_timeout(300)  # anything the item still sends is counted with it
                now_sent, now_received = page.evaluate("[window.__benchSent, window.__benchReceived]")
                item_sent.append(now_sent - sent)
                item_bytes.append(now_received - received)
            browser.close()
    finally:
        for process, _ in servers:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
    empty = statistics.median(empty_ms)
    return [row("annotate in Chromium: messages to the server per fully labelled item (median of 9) vs an empty "
                "page's click", statistics.median(item_sent), statistics.median(empty_sent), "msgs",
                note=f"per item: {item_sent}; goal: at most 2"),
            row("annotate in Chromium: submit to the next item shown (median of 9) vs an empty page's click round "
                "trip", statistics.median(item_ms), empty, "ms",
                note=f"per item: {[round(v) for v in item_ms]} ms; empty page: {round(min(empty_ms))} to "
                     f"{round(max(empty_ms))} ms; the server sent {round(statistics.median(item_bytes) / 1000)} kB "
                     "per item; goal: ratio at most 2")]


@benchmark
def import_memory(n: int, workdir: Path) -> list[dict]:
    """Peak memory of importing n queries from a JSON array and from JSONL, each in a fresh process,
    vs the peak of json.load of the same JSON file: the importer reads item by item."""
    rows = synthetic_queries(n, seed=2)
    jsonl = write_jsonl(rows, workdir / "queries.jsonl")
    array = workdir / "queries.json"
    with open(array, "w", encoding="utf-8") as handle:
        handle.write("[\n")
        for index, item in enumerate(rows):
            handle.write(("," if index else "") + json.dumps(item) + "\n")
        handle.write("]\n")
    del rows

    def peak_mb_of(code: str, *args: str) -> float:
        script = f"import sys\n{code}\n{PRINT_OWN_PEAK_KB}"
        done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        return int(done.stdout.split()[-1]) / 1024

    importing = ("from curation_app import database\n"
                 "from curation_app.core.auth import command_line_actor\n"
                 "from curation_app.core.importer import import_file\n"
                 "url = 'sqlite:///' + sys.argv[2]\n"
                 "database.upgrade(url)\n"
                 "import_file(sys.argv[1], actor=command_line_actor(), engine=database.get_engine(url))")
    from_array = peak_mb_of(importing, str(array), str(workdir / "array.sqlite"))
    from_jsonl = peak_mb_of(importing, str(jsonl), str(workdir / "jsonl.sqlite"))
    loading = peak_mb_of("import json\njson.load(open(sys.argv[1], encoding='utf-8'))", str(array))
    size_mb = array.stat().st_size / 1e6
    return [row(f"peak memory, import of {n:,} queries from a {size_mb:.0f} MB JSON array vs json.load of the file",
                from_array, loading, "MB",
                note=f"the same queries from JSONL: {from_jsonl:.0f} MB; both include the interpreter and "
                     "the app's libraries")]


_MODERATION_CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "self-harm",
                          "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
                          "violence/graphic")


def _chat_log_rows(n: int, seed: int) -> list[dict]:
    """n conversations shaped like LMSYS-Chat-1M's rows: one to three exchanges, a moderation
    result per message (the bulk of a real row), the model, language and redaction flag."""
    import random

    rng = random.Random(seed)
    prompts = synthetic_queries(n, seed=seed)
    models = ("vicuna-13b", "koala-13b", "alpaca-13b", "chatglm-6b", "gpt-3.5-turbo", "claude-1", "llama-2-13b-chat")
    rows = []
    for index, prompt in enumerate(prompts):
        conversation = []
        for exchange in range(rng.choice((1, 1, 1, 2, 3))):
            question = (prompt["messages"][0]["content"] if exchange == 0
                        else f"And what if the input is empty? ({exchange})")
            conversation += [{"content": question, "role": "user"},
                             {"content": f"Here is one way to do it.\n\n{question[:rng.randint(200, 900)]}",
                              "role": "assistant"}]
        moderation = [{"categories": {name: False for name in _MODERATION_CATEGORIES},
                       "category_scores": {name: round(rng.random() / 1000, 8) for name in _MODERATION_CATEGORIES},
                       "flagged": False} for _ in conversation]
        rows.append({"conversation_id": f"{index:08x}{rng.getrandbits(96):024x}", "model": rng.choice(models),
                     "conversation": conversation, "turn": len(conversation) // 2, "language": "English",
                     "openai_moderation": moderation, "redacted": rng.random() < 0.1})
    return rows


@benchmark
def parquet_import_memory(n: int, workdir: Path) -> list[dict]:
    """Peak memory of importing n LMSYS-Chat-1M-shaped conversations from a Parquet shard vs the
    same rows from JSONL, each import in a fresh process: a shard in row groups of 1,000 rows (as
    Hugging Face `datasets` writes them) and one written in a single row group (as pandas and pyarrow
    write a file by default), the hardest case, since a row group is the unit Parquet is read in."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _chat_log_rows(n, seed=3)
    jsonl = write_jsonl(rows, workdir / "chat.jsonl")
    table = pa.Table.from_pylist(rows)
    del rows
    in_groups, in_one = workdir / "groups.parquet", workdir / "one.parquet"
    pq.write_table(table, in_groups, row_group_size=1_000)
    pq.write_table(table, in_one, row_group_size=len(table))
    del table

    def peak_mb_of(path: Path) -> float:
        # VmHWM, not ru_maxrss: Linux carries the forking parent's peak (this process held the
        # rows) into ru_maxrss across exec, which would floor every figure at the parent's size.
        script = ("import sys\n"
                  "from curation_app import database\n"
                  "from curation_app.core.auth import command_line_actor\n"
                  "from curation_app.core.importer import import_file\n"
                  "url = 'sqlite:///' + sys.argv[2]\n"
                  "database.upgrade(url)\n"
                  "import_file(sys.argv[1], actor=command_line_actor(), engine=database.get_engine(url))\n"
                  + PRINT_OWN_PEAK_KB)
        done = subprocess.run([sys.executable, "-c", script, str(path), str(path.with_suffix(".sqlite"))],
                              capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        return int(done.stdout.split()[-1]) / 1024

    from_jsonl = peak_mb_of(jsonl)
    note = (f"the JSONL file: {jsonl.stat().st_size / 1e6:.0f} MB, {from_jsonl:.0f} MB to import; every figure "
            "includes the interpreter and the app's libraries (pyarrow's only for Parquet)")
    return [row(f"peak memory, import of {n:,} LMSYS-Chat-1M-shaped conversations from a "
                f"{in_groups.stat().st_size / 1e6:.0f} MB Parquet shard in row groups of 1,000 vs from JSONL",
                peak_mb_of(in_groups), from_jsonl, "MB", note=note),
            row(f"peak memory, the same {n:,} conversations from a Parquet file in one row group vs from JSONL",
                peak_mb_of(in_one), from_jsonl, "MB",
                note=f"{in_one.stat().st_size / 1e6:.0f} MB; a row group is read whole, so memory follows the "
                     "largest row group")]


@benchmark
def agreement_alpha(n: int, workdir: Path) -> list[dict]:
    """Nominal alpha on n items x 5 annotators vs the krippendorff package; the full report."""
    import krippendorff
    import numpy as np
    import pandas as pd

    from curation_app.core.agreement import agreement_report, krippendorff_alpha
    from curation_app.core.taxonomy import default_taxonomy

    rng = np.random.default_rng(0)
    labels = np.array([sub for subs in default_taxonomy().categories.values() for sub in subs])
    truth = rng.integers(0, len(labels), n)
    noise = rng.random((5, n)) < 0.3
    codes = np.where(noise, rng.integers(0, len(labels), (5, n)), truth)
    ratings = pd.DataFrame({"item": np.tile(np.arange(n), 5), "annotator": np.repeat([f"a{i}" for i in range(5)], n),
                            "value": labels[codes.ravel()]})
    matrix = codes.astype(float)
    package_value = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    baseline = timed(lambda: krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    ours_value = krippendorff_alpha(ratings, level="nominal")
    value = timed(lambda: krippendorff_alpha(ratings, level="nominal"))
    assert abs(ours_value - package_value) < 1e-9, (ours_value, package_value)
    report_time = timed(lambda: agreement_report(ratings, level="nominal", n_bootstrap=1000, seed=0))
    fields = _annotation_fields(rng, n, codes, labels)
    scale = list(default_taxonomy().difficulties)

    def every_field() -> None:
        for name, (level, field_ratings) in fields.items():
            agreement_report(field_ratings, level=level, scale=scale if level == "ordinal" else None,
                             n_bootstrap=1000, seed=0)

    all_fields_time = timed(every_field)
    return [
        row(f"nominal alpha, {n:,} items x 5 annotators, 40 labels (long table) vs krippendorff package",
            value, baseline, note=f"same value: {ours_value:.12f}"),
        row("full nominal report with 1,000 bootstrap resamples vs one plain alpha", report_time, value),
        row(f"full report on every field ({', '.join(fields)}), 1,000 resamples each, vs one plain alpha",
            all_fields_time, value),
    ]


def _annotation_fields(rng, n: int, subcategory_codes, subcategories) -> dict:  # noqa: ANN001
    """Five annotators' ratings of each annotation field, with about 30% noise: (level, long table)."""
    import numpy as np
    import pandas as pd

    from curation_app.core.agreement.database import FIELD_LEVELS
    from curation_app.core.taxonomy import default_taxonomy

    taxonomy = default_taxonomy()
    items, annotators = np.tile(np.arange(n), 5), np.repeat([f"a{i}" for i in range(5)], n)

    def noisy(choices: np.ndarray, weights=None) -> np.ndarray:  # noqa: ANN001
        truth = rng.choice(len(choices), n, p=weights)
        noise = rng.random((5, n)) < 0.3
        return choices[np.where(noise, rng.choice(len(choices), (5, n), p=weights), truth).ravel()]

    decision = noisy(np.array(taxonomy.decisions), [0.9, 0.1] if len(taxonomy.decisions) == 2 else None)
    reasons = noisy(np.array(taxonomy.reject_reasons))
    languages = np.array(taxonomy.languages)
    first, second = noisy(languages), noisy(languages)
    sets = [frozenset((a, b)) if keep else frozenset((a,)) for a, b, keep in zip(first, second, rng.random(5 * n) < 0.2)]
    main_of = {sub: main for main, subs in taxonomy.categories.items() for sub in subs}
    values = {
        "decision": decision,
        "reject_reason": np.where(decision == "reject", reasons, None),
        "category": np.array([main_of[s] for s in subcategories[subcategory_codes.ravel()]]),
        "subcategory": subcategories[subcategory_codes.ravel()],
        "difficulty": noisy(np.array(taxonomy.difficulties)),
        "languages": np.array(sets, dtype=object),
    }
    tables = {}
    for name, level in FIELD_LEVELS.items():
        frame = pd.DataFrame({"item": items, "annotator": annotators, "value": values[name]})
        tables[name] = (level, frame[frame["value"].notna()].reset_index(drop=True))
    return tables


@benchmark
def release_export(n: int, workdir: Path) -> list[dict]:
    """A release of n final items vs writing the same rows with pandas (JSONL and Parquet)."""
    import pandas as pd

    from benchmarks.synthetic import populate
    from curation_app.core import release
    from curation_app.core.auth import command_line_actor
    from curation_app.database import session_scope

    info = populate(f"sqlite:///{workdir / 'release.sqlite'}", n_queries=n, n_open=0, workdir=workdir)
    engine = info["engine"]
    _finalise_every_query(engine)
    os.environ["CURATION_EXPORTS_DIR"] = str(workdir / "exports")
    start = time.perf_counter()
    with session_scope(engine) as session:
        created = release.create_release(session, actor=command_line_actor(), name="bench", version="1",
                                         spec=release.ReleaseSpec())
    value = time.perf_counter() - start
    items = [json.loads(line) for line in open(Path(created["path"]) / "data.jsonl", encoding="utf-8")]
    frame = pd.DataFrame(items)

    def with_pandas() -> None:
        frame.to_json(workdir / "pandas.jsonl", orient="records", lines=True, force_ascii=False)
        frame.to_parquet(workdir / "pandas.parquet")

    baseline = timed(with_pandas)
    return [row(f"release of {created['items']:,} items (read, select, agreement, JSONL, Parquet, card, "
                "manifest, snapshot rows) vs pandas writing the same rows", value, baseline)]


@benchmark
def near_duplicates(n: int, workdir: Path) -> list[dict]:
    """Near-duplicate clusters over n queries (MinHash LSH, never all pairs) vs exact-duplicate
    hashing of the same texts; peak memory is the child process's."""
    from curation_app.core.importer import content_hash
    from curation_app.core.triage import near_duplicate_clusters

    rows = synthetic_queries(n, seed=11)
    texts = [(r["id"], r["messages"][0]["content"]) for r in rows]
    baseline = timed(lambda: {content_hash([{"role": "user", "content": t}]) for _, t in texts})
    clusters: list = []
    value = timed(lambda: clusters.extend(near_duplicate_clusters(texts, threshold=0.85)))
    return [row(f"near-duplicate clusters over {n:,} queries vs exact-duplicate hashing", value, baseline,
                note=f"{len(clusters)} clusters found")]


_EVERYDAY = ("the weather trip family dinner garden story poem birthday letter budget holiday recipe friend "
             "history movie song book city school health running coffee morning weekend gift wedding essay").split()
_OTHER_ASKS = ["Can you write a short poem about this?", "Help me plan a week of healthy meals.",
               "What should I see on a three day trip?", "Please summarise this article for me.",
               "Write a polite email to my landlord.", "Explain the causes of the first world war.",
               "Give me ideas for a birthday party.", "Translate this paragraph into French."]


def _coding_score_texts(n: int) -> list[str]:
    """Half the synthetic coding queries, half everyday requests of the same lengths, interleaved."""
    import random

    rng = random.Random(13)
    coding = [r["messages"][0]["content"] for r in synthetic_queries(n - n // 2, seed=13)]
    other = [f"{rng.choice(_OTHER_ASKS)} " + " ".join(rng.choice(_EVERYDAY) for _ in range(rng.randint(20, 160)))
             for _ in range(n // 2)]
    return [text for pair in zip(coding, other) for text in pair] + coding[len(other):]


@benchmark
def coding_score(n: int, workdir: Path) -> list[dict]:
    """The coding-query score of n queries (half coding, half not) by the rules, and by the model
    trained on 400 of them, vs exact-duplicate hashing of the same texts; and the triage step that
    reads n stored queries, scores them and writes the scores (SQLite)."""
    from curation_app import database
    from curation_app.core.auth import command_line_actor
    from curation_app.core.importer import content_hash, import_file
    from curation_app.core.triage import coding_queries
    from curation_app.core.triage import database as triage_db

    texts = _coding_score_texts(n)
    baseline = timed(lambda: {content_hash([{"role": "user", "content": t}]) for t in texts})
    def cpu_and_wall(function: Callable[[], object]) -> tuple[float, float]:
        """On a shared machine the process's CPU time says more than the wall clock."""
        start = time.process_time()
        wall = timed(function)
        return time.process_time() - start, wall

    scores: list = []
    cpu, value = cpu_and_wall(lambda: scores.append(coding_queries.rule_scores(texts)))
    coding = [i % 2 == 0 for i in range(len(texts))]  # interleaved: even positions are the coding ones
    found = scores[0] >= 0.5
    agreement = float((found == coding[:len(found)]).mean())
    model = coding_queries.fit_model(texts[:400], coding[:400])
    model_scores: list = []
    model_cpu, model_value = cpu_and_wall(lambda: model_scores.append(model.scores(texts)))
    per_query = 1e6 / len(texts)
    url = f"sqlite:///{workdir / 'coding.sqlite'}"
    database.upgrade(url)
    engine = database.get_engine(url)
    path = write_jsonl([{"id": f"cs-{i:07d}", "prompt": text} for i, text in enumerate(texts)], workdir / "q.jsonl")
    import_file(path, actor=command_line_actor(), engine=engine)
    report: dict = {}
    step_cpu, step = cpu_and_wall(
        lambda: report.update(triage_db.coding_beside_writers(actor=command_line_actor(), engine=engine)))
    return [row(f"coding score of {n:,} queries by the rules vs exact-duplicate hashing", value, baseline,
                note=f"{value * per_query:.0f} us a query ({cpu * per_query:.0f} us of CPU); {agreement:.1%} of the "
                     "synthetic half-coding set scored on the right side of 0.5"),
            row(f"coding score of {n:,} queries by the model trained on final labels vs exact-duplicate hashing",
                model_value, baseline, note=f"{model_value * per_query:.0f} us a query ({model_cpu * per_query:.0f} us "
                                            "of CPU; the rules' features, hashed words, a logistic regression)"),
            row(f"triage's coding step on {n:,} stored queries vs exact-duplicate hashing", step, baseline,
                note=f"{step_cpu:.1f} s of CPU; SQLite: first turns read by JSON path, scored by the rules, bulk "
                     f"UPDATE; {report['scored']:,} scored, {report['coding']:,} at or above {report['threshold']:g}")]


def _concurrent_annotators(url: str, workdir: Path, n_annotators: int, per_annotator: int) -> dict:
    import threading

    from sqlalchemy import func, select

    from curation_app import database
    from curation_app.core import annotate, auth, configure, queue
    from curation_app.core.importer import import_file
    from curation_app.models import Annotation, Query, User

    database.upgrade(url)
    engine = database.get_engine(url)
    actor = auth.command_line_actor()
    n_queries = n_annotators * per_annotator // 2
    import_file(write_jsonl(synthetic_queries(n_queries, seed=3), workdir / f"concurrent-{n_queries}.jsonl"),
                actor=actor, engine=engine)
    with database.session_scope(engine) as session:
        for i in range(n_annotators):
            session.add(User(name=f"worker{i}", role="annotator"))
        configure.change_setting(session, actor=actor, key="overlap", value=2)
        queue.assign(session, actor=actor)
    with database.session_scope(engine) as session:
        workers = list(session.execute(select(User).where(User.name.like("worker%"))).scalars())
    fields = {"decision": "keep", "category": "Development and Programming", "subcategory": "Code Debugging",
              "languages": ["python"], "difficulty": "easy"}
    done, errors = [0] * len(workers), []
    barrier = threading.Barrier(len(workers))

    def work(index: int, user: User) -> None:
        barrier.wait()
        for _ in range(per_annotator):
            try:
                with database.session_scope(engine) as session:
                    item = queue.next_item(session, actor=user)
                if item is None:
                    return
                with database.session_scope(engine) as session:
                    annotate.save(session, actor=user, public_id=item.public_id, fields=fields, submit=True,
                                  suggested_languages=[])
                done[index] += 1
            except Exception as error:  # noqa: BLE001 - counted and reported
                errors.append(repr(error)[:200])

    threads = [threading.Thread(target=work, args=(i, u)) for i, u in enumerate(workers)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    with database.session_scope(engine) as session:
        stored = session.execute(select(func.count()).select_from(Annotation).where(
            Annotation.state == "submitted")).scalar_one()
        over_k = session.execute(select(func.count()).select_from(Query).where(Query.n_claims > 2)).scalar_one()
    database.dispose_engines()
    return {"submitted": sum(done), "stored": stored, "lost": sum(done) - stored, "errors": len(errors),
            "over_k": over_k, "seconds": elapsed, "first_error": errors[0] if errors else ""}


@benchmark
def concurrent_annotators(n: int, workdir: Path) -> list[dict]:
    """20 annotators in threads submitting 500 each (50 at --quick), on SQLite and PostgreSQL, vs one
    annotator alone on the same backend: throughput, errors and lost writes (both must be 0)."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    per_annotator = 500 if n >= 100_000 else 50
    rows = []
    admin_url = os.environ.get("CURATION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # noqa: BLE001 - reported in the table
        admin = None
        rows.append(row("20 concurrent annotators on PostgreSQL", 0, 0, "submits/s",
                        note=f"skipped: no server ({str(error).splitlines()[0][:80]})"))

    def database_for(label: str, tag: str) -> tuple[str, object]:
        if label == "SQLite":
            return f"sqlite:///{workdir / f'concurrent-{tag}.sqlite'}", None
        name = f"curation_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        return make_url(admin_url).set(database=name).render_as_string(False), name

    def run(label: str, n_annotators: int, per: int) -> dict:
        url, name = database_for(label, f"{n_annotators}")
        try:
            return _concurrent_annotators(url, workdir, n_annotators, per)
        finally:
            if name:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    for label in ["SQLite"] + (["PostgreSQL"] if admin is not None else []):
        alone = run(label, 1, per_annotator * 2)
        together = run(label, 20, per_annotator)
        rows.append(row(f"20 concurrent annotators x {per_annotator} submits on {label} vs one annotator alone",
                        together["submitted"] / together["seconds"], alone["submitted"] / alone["seconds"],
                        "submits/s",
                        note=f"submitted {together['submitted']}, stored {together['stored']}, lost "
                             f"{together['lost']}, errors {together['errors']}, queries over k {together['over_k']}"
                             + (f", first error: {together['first_error']}" if together["first_error"] else "")))
    return rows


@benchmark
def scale_sample_candidates(n: int, workdir: Path) -> list[dict]:
    """`sample --size 2,000` stratified by language, topic and source, recorded and opened to the
    pool, over 10 x n queries (1,000,000; 100,000 at --quick) on SQLite and PostgreSQL, vs a bare
    SELECT of the same queries' ids, sources and public ids on the same backend. Some queries are
    held out, retired or already open, as in a real pool; rows are loaded with the drivers' bulk
    paths (the import itself is measured above)."""
    import random
    import uuid

    import orjson
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from curation_app import database
    from curation_app.core import sampling
    from curation_app.core.auth import command_line_actor
    from curation_app.models import ImportBatch, utcnow

    scale, size, chunk = 10 * n, 2_000, 100_000
    sources = {"arena": 55, "sharegpt": 30, "forum": 14, "mailing-list": 1}
    columns = ("public_id", "content_hash", "messages", "n_turns", "n_chars", "source", "source_file",
               "source_location", "batch_id", "in_pool", "n_claims", "pool_open", "retired", "queue_rank",
               "created_at", "coding_score", "triage_flags")
    admin_url = os.environ.get("CURATION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    rows: list[dict] = []
    targets: list[tuple[str, str, object]] = [("SQLite", f"sqlite:///{workdir / 'sample.sqlite'}", None)]
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        name = f"curation_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        targets.append(("PostgreSQL", make_url(admin_url).set(database=name).render_as_string(False), name))
    except Exception as error:  # noqa: BLE001 - reported in the table
        admin = None
        rows.append(row(f"scale: sample {size:,} of {scale:,} queries on PostgreSQL", 0, 0,
                        note=f"skipped: no server ({str(error).splitlines()[0][:80]})"))
    try:
        connections = {}
        for label, url, _ in targets:
            database.upgrade(url)
            with database.session_scope(database.get_engine(url)) as session:
                session.add(ImportBatch(source="bench", file_name="bench.jsonl", file_sha256="0" * 64,
                                        file_format="jsonl", shape="flat"))
            connections[label] = database.get_engine(url).raw_connection()
        rng = random.Random(21)
        now = utcnow()
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        names, weights = list(sources), list(sources.values())
        for start in range(0, scale, chunk):
            values = []
            for i, query in enumerate(synthetic_queries(min(chunk, scale - start), seed=start), start=start):
                roll = rng.random()
                flags = {"secrets": [{"kind": "aws_key", "span": [0, 20]}], "blocked": True} if roll < 0.02 else None
                content = query["messages"][0]["content"]
                values.append([f"syn-{i:07d}", hashlib.sha256(f"{i}:{content}".encode()).hexdigest(),
                               orjson.dumps(query["messages"]).decode(), 1, len(content),
                               rng.choices(names, weights)[0], "bench.jsonl", f"line {i + 1}", 1,
                               0.02 <= roll < 0.07, 0, 0.02 <= roll < 0.07, 0.07 <= roll < 0.08, 0.0, now,
                               round(rng.random(), 3), orjson.dumps(flags).decode() if flags else None])
            for label, raw in connections.items():
                if label == "SQLite":
                    placeholders = ", ".join("?" * len(columns))
                    raw.cursor().executemany(
                        f"INSERT INTO query ({', '.join(columns)}) VALUES ({placeholders})",
                        [[*v[:14], stamp, *v[15:]] for v in values])
                else:
                    with raw.driver_connection.cursor() as cursor:
                        with cursor.copy(f"COPY query ({', '.join(columns)}) FROM STDIN") as copy:
                            for v in values:
                                copy.write_row(v)
                raw.commit()
        for label, raw in connections.items():
            if label == "PostgreSQL":
                raw.driver_connection.autocommit = True
                raw.driver_connection.execute("VACUUM ANALYZE query")
            raw.close()
        # What a cold `sample` command also pays once: importing scikit-learn (about a second).
        import sklearn.cluster  # noqa: F401
        import sklearn.feature_extraction  # noqa: F401

        for label, url, _ in targets:
            engine = database.get_engine(url)
            raw = engine.raw_connection()
            cursor = raw.cursor()

            def bare_select() -> None:
                cursor.execute("SELECT id, public_id, source FROM query")
                cursor.fetchall()

            baseline = timed(bare_select)
            raw.close()
            spec = sampling.SampleSpec(size=size, seed=1, by=("language", "topic", "source"))
            report: dict = {}
            value = timed(lambda: report.update(sampling.sample_candidates(
                actor=command_line_actor(), spec=spec, engine=engine)))
            rows.append(row(f"scale: sample {size:,} of {scale:,} queries on {label} (strata language, topic, "
                            "source; recorded and opened) vs a bare SELECT of their ids", value, baseline,
                            note=f"chose {report['size_chosen']:,} from {report['candidates']:,} candidates in "
                                 f"{len(report['strata'])} strata read from {report['strata_read_from']:,}; "
                                 f"opened {report['opened']:,}; target under 30 s"))
    finally:
        database.dispose_engines()
        if admin is not None:
            with admin.connect() as connection:
                for _, _, name in targets:
                    if name:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return rows


# scale: a million queries. Each figure's import runs in a fresh process (its time and VmHWM
# measured there); its baseline runs here, on rows prepared before the clock starts.

_SCALE_COLUMNS = ("public_id", "content_hash", "messages", "n_turns", "n_chars", "source", "source_file",
                  "source_location", "original_id", "batch_id", "extra", "baseline_answer", "baseline_model",
                  "triage_flags", "in_pool", "n_claims", "pool_open", "retired", "queue_rank", "created_at")
# The query table's columns and every one of its indexes (no foreign key: there is no batch table).
_SCALE_TABLE = """CREATE TABLE bare_query (id {id}, public_id VARCHAR(300) NOT NULL, content_hash VARCHAR(64) NOT NULL,
    messages {json} NOT NULL, n_turns INTEGER NOT NULL, n_chars INTEGER NOT NULL, source VARCHAR(200) NOT NULL,
    source_file VARCHAR(500) NOT NULL, source_location VARCHAR(50) NOT NULL, original_id VARCHAR(300),
    batch_id INTEGER NOT NULL, extra {json}, baseline_answer TEXT, baseline_model VARCHAR(200), triage_flags {json},
    coding_score FLOAT, in_pool BOOLEAN NOT NULL, n_claims INTEGER NOT NULL, pool_open BOOLEAN NOT NULL,
    retired BOOLEAN NOT NULL, queue_rank FLOAT NOT NULL, created_at {time} NOT NULL,
    UNIQUE (public_id), UNIQUE (content_hash))"""
_SCALE_INDEXES = ("CREATE INDEX bare_batch ON bare_query (batch_id)",
                  "CREATE INDEX bare_source ON bare_query (source, original_id)",
                  "CREATE INDEX bare_pool ON bare_query (pool_open, queue_rank, id)",
                  "CREATE INDEX bare_coding ON bare_query (coding_score)")
_SCALE_IMPORT = """import sys, time
from curation_app import database
from curation_app.core.auth import command_line_actor
from curation_app.core.importer import import_file
database.upgrade(sys.argv[2])
engine = database.get_engine(sys.argv[2])
start = time.perf_counter()
summary = import_file(sys.argv[1], actor=command_line_actor(), source="bench", engine=engine)
seconds = time.perf_counter() - start
peak_kb = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(seconds, int(peak_kb) / 1024, summary.imported)
"""


def _scale_prepared_rows(n: int, seed: int, stamp: object) -> list[tuple]:
    """The rows the importer writes for the synthetic file, as tuples in _SCALE_COLUMNS order."""
    import orjson

    from benchmarks.synthetic import iter_synthetic_queries
    from curation_app.core.importer import content_hash

    return [(r["id"], content_hash(r["messages"]), orjson.dumps(r["messages"]).decode(), 1,
             len(r["messages"][0]["content"]), "bench", "scale.jsonl", f"line {i}", r["id"], 1,
             orjson.dumps({"language": r["language"]}).decode(), None, None, None, False, 0, False, False, 0.0,
             stamp) for i, r in enumerate(iter_synthetic_queries(n, seed), start=1)]


def _scale_import_in_child(path: Path, url: str, n: int) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", _SCALE_IMPORT, str(path), url], capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    seconds, peak_mb, imported = done.stdout.split()[-3:]
    assert int(imported) == n, f"imported {imported} of {n}"
    return float(seconds), float(peak_mb)


@benchmark
def scale_import(n: int, workdir: Path) -> list[dict]:
    """`import` of 10 x n JSONL queries (1,000,000; 100,000 at --quick), each in a fresh process, on
    SQLite vs a bare sqlite3 executemany and on PostgreSQL vs a bare psycopg COPY of the same
    prepared rows into a table with the query table's columns and indexes."""
    import datetime
    import uuid

    from benchmarks.synthetic import iter_synthetic_queries

    n = n * 10
    path = write_jsonl(iter_synthetic_queries(n, seed=5), workdir / "scale.jsonl")
    size = f"{path.stat().st_size / 1e6:,.0f} MB"
    target = "target: within 12x and under 600 MB"
    stamp = datetime.datetime.now(datetime.timezone.utc)
    prepared = _scale_prepared_rows(n, 5, stamp)
    placeholders = ", ".join("?" * len(_SCALE_COLUMNS))
    bare = sqlite3.connect(workdir / "bare.sqlite", isolation_level=None)
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("PRAGMA synchronous=NORMAL")
    bare.execute(_SCALE_TABLE.format(id="INTEGER PRIMARY KEY", json="JSON", time="DATETIME"))
    for statement in _SCALE_INDEXES:
        bare.execute(statement)
    sqlite_rows = [r[:-1] + (str(stamp.replace(tzinfo=None)),) for r in prepared]

    def bare_sqlite() -> None:
        bare.execute("BEGIN")
        bare.executemany(f"INSERT INTO bare_query ({', '.join(_SCALE_COLUMNS)}) VALUES ({placeholders})",
                         sqlite_rows)
        bare.execute("COMMIT")

    baseline = timed(bare_sqlite)
    bare.close()
    del sqlite_rows
    seconds, peak_mb = _scale_import_in_child(path, f"sqlite:///{workdir / 'app.sqlite'}", n)
    rows = [row(f"scale: import of {n:,} queries (JSONL, {size}) on SQLite vs bare sqlite3 executemany", seconds,
                baseline, note=f"import peak {peak_mb:.0f} MB (VmHWM, fresh process); {target}")]
    rows[0]["import_peak_mb"] = round(peak_mb)

    import psycopg
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = os.environ.get("CURATION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"curation_scale_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - reported in the table
        return rows + [row(f"scale: import of {n:,} queries on PostgreSQL", 0, 0,
                           note=f"skipped: no server ({str(error).splitlines()[0][:80]})")]
    url = make_url(admin_url).set(database=name)
    try:
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as bare_pg:
            bare_pg.execute(_SCALE_TABLE.format(id="SERIAL PRIMARY KEY", json="JSON", time="TIMESTAMP"))
            for statement in _SCALE_INDEXES:
                bare_pg.execute(statement)
            bare_pg.commit()

            def bare_copy() -> None:
                with bare_pg.cursor() as cursor:
                    with cursor.copy(f"COPY bare_query ({', '.join(_SCALE_COLUMNS)}) FROM STDIN") as copy:
                        for item in prepared:
                            copy.write_row(item)
                bare_pg.commit()

            baseline = timed(bare_copy)
            bare_pg.execute("DROP TABLE bare_query")
            bare_pg.commit()
        del prepared
        seconds, peak_mb = _scale_import_in_child(path, url.render_as_string(False), n)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    rows.append(row(f"scale: import of {n:,} queries (JSONL, {size}) on PostgreSQL vs bare psycopg COPY", seconds,
                    baseline, note=f"import peak {peak_mb:.0f} MB (VmHWM, fresh process); {target}"))
    rows[-1]["import_peak_mb"] = round(peak_mb)
    return rows


# ---------------------------------------------------------------------------------------------
# Scale: a million queries (triage, next item and submit) and a 100,000-item release, each on
# SQLite and PostgreSQL where it says so, measured in fresh processes so their peaks are theirs.


def _postgres_admin():  # type: ignore[no-untyped-def]
    """An AUTOCOMMIT engine on the PostgreSQL server, or the reason there is none."""
    from sqlalchemy import create_engine, text

    admin_url = os.environ.get("CURATION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as connection:
            connection.execute(text("select 1"))
        return admin, ""
    except Exception as error:  # noqa: BLE001 - reported in the table
        return None, f"skipped: no PostgreSQL server ({str(error).splitlines()[0][:80]})"


@contextlib.contextmanager
def _scratch_database(backend: str, workdir: Path, tag: str, admin=None):  # type: ignore[no-untyped-def]
    """A new, empty database on SQLite or PostgreSQL, dropped afterwards; yields its URL."""
    import uuid

    from sqlalchemy import text

    from curation_app import database

    if backend == "SQLite":
        yield f"sqlite:///{workdir / f'{tag}.sqlite'}"
        database.dispose_engines()
        return
    name = f"curation_scale_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(False)
    finally:
        database.dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _backends() -> tuple[list[tuple[str, object]], list[dict]]:
    """[(backend, admin engine)] to run on, and a skipped row for PostgreSQL if it is missing."""
    admin, reason = _postgres_admin()
    if admin is None:
        return [("SQLite", None)], [row("scale: PostgreSQL", 0, 0, note=reason)]
    return [("SQLite", None), ("PostgreSQL", admin)], []


# A new program's own peak. Not ru_maxrss: Linux keeps the high-water mark across exec, so a
# child started by a process holding 400 MB reports at least 400 MB, whatever it uses itself.
_OWN_PEAK_MB = """
def own_peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
"""


def _in_a_fresh_process(code: str, *args: str) -> dict:
    """Run `code` in a new interpreter (it sets `result`, a dict); adds its peak memory, peak_mb."""
    script = (f"import json, resource, sys, time\n{_OWN_PEAK_MB}\n{code}\n"
              "result['peak_mb'] = own_peak_mb()\n"
              "print(json.dumps(result))")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"fresh process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _finalise_every_query(engine) -> None:  # type: ignore[no-untyped-def]
    """Every annotated query final and kept, labelled as its first annotation."""
    from sqlalchemy import select

    from curation_app.database import session_scope
    from curation_app.models import Annotation, FinalLabel

    with session_scope(engine) as session:
        rows, seen = [], set()
        for a in session.execute(select(Annotation.query_id, Annotation.category, Annotation.subcategory,
                                        Annotation.languages, Annotation.difficulty, Annotation.reference_answer)
                                 .order_by(Annotation.query_id, Annotation.id)):
            if a.query_id not in seen:
                seen.add(a.query_id)
                rows.append({"query_id": a.query_id, "decision": "keep", "category": a.category,
                             "subcategory": a.subcategory, "languages": a.languages, "difficulty": a.difficulty,
                             "reference_answer": a.reference_answer, "source": "unanimous", "field_sources": {},
                             "guidelines_need_update": False, "revision": 1})
        for start in range(0, len(rows), 20_000):
            session.connection().execute(FinalLabel.__table__.insert(), rows[start:start + 20_000])


_RELEASE = """
import os
from curation_app import database
from curation_app.core import release
from curation_app.core.auth import command_line_actor
os.environ["CURATION_EXPORTS_DIR"] = sys.argv[2]
engine = database.get_engine(sys.argv[1])
start = time.perf_counter()
with database.session_scope(engine) as session:
    created = release.create_release(session, actor=command_line_actor(), name="scale", version="1",
                                     spec=release.ReleaseSpec())
result = {"seconds": time.perf_counter() - start, "items": created["items"], "path": created["path"]}
"""

_PANDAS_WRITING = """
import pandas as pd
frame = pd.read_json(sys.argv[1], lines=True, dtype=False)
start = time.perf_counter()
frame.to_json(sys.argv[2] + ".jsonl", orient="records", lines=True, force_ascii=False)
frame.to_parquet(sys.argv[2] + ".parquet")
result = {"seconds": time.perf_counter() - start}
"""


@benchmark
def scale_release(n: int, workdir: Path) -> list[dict]:
    """A release of n final items in a fresh process (its time and peak memory) vs pandas writing
    the same rows as JSONL and Parquet in another; on SQLite and PostgreSQL."""
    from benchmarks.synthetic import populate

    backends, rows = _backends()
    for backend, admin in backends:
        with _scratch_database(backend, workdir, "scale-release", admin) as url:
            info = populate(url, n_queries=n, n_open=0, workdir=workdir)
            _finalise_every_query(info["engine"])
            from curation_app import database
            database.dispose_engines()
            released = _in_a_fresh_process(_RELEASE, url, str(workdir / f"exports-{backend}"))
        pandas = _in_a_fresh_process(_PANDAS_WRITING, str(Path(released["path"]) / "data.jsonl"),
                                     str(workdir / "pandas"))
        rows.append(row(f"scale: release of {released['items']:,} items on {backend} (fresh process) vs pandas "
                        "writing the same rows as JSONL and Parquet", released["seconds"], pandas["seconds"],
                        note=f"release peak {released['peak_mb']:.0f} MB (target: under 400 MB, ratio within 3x); "
                             f"pandas, holding every row, peaks at {pandas['peak_mb']:.0f} MB"))
        rows[-1]["peak_mb"] = round(released["peak_mb"])
    return rows


_TRIAGE = """
from curation_app import database
from curation_app.core.auth import command_line_actor
from curation_app.core.triage import database as triage_db
engine = database.get_engine(sys.argv[1])
start = time.perf_counter()
report = triage_db.triage_beside_writers(actor=command_line_actor(), engine=engine)
result = {"seconds": time.perf_counter() - start, "clusters": len(report["duplicate_clusters"]),
          "clustered": sum(len(c) for c in report["duplicate_clusters"]),
          "with_secrets": len({hit["id"] for hit in report["secrets"]}),
          "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
"""

# The cheapest check over every query: the importer's exact-duplicate hash of each one, read from
# the same database in the same pages as triage reads.
_EXACT_HASHING = """
import orjson
from sqlalchemy import Text, cast, select
from curation_app import database
from curation_app.core.importer import content_hash
from curation_app.models import Query
engine = database.get_engine(sys.argv[1])
start = time.perf_counter()
seen, after = set(), 0
with database.read_scope(engine) as session:
    while rows := session.connection().execute(select(Query.id, cast(Query.messages, Text)).where(
            Query.id > after).order_by(Query.id).limit(1000)).all():
        seen.update(content_hash(orjson.loads(messages)) for _, messages in rows)
        after = rows[-1][0]
result = {"seconds": time.perf_counter() - start, "distinct": len(seen)}
"""


@benchmark
def scale_triage(n: int, workdir: Path) -> list[dict]:
    """Near-duplicates and secrets over 10 x n queries (a million; varied synthetic text with
    planted near-duplicates and secrets) from the database, in a fresh process: time and peak
    memory, vs exact-duplicate hashing of the same queries; on SQLite and PostgreSQL."""
    from benchmarks.synthetic import bulk_insert_queries, varied_queries
    from curation_app import database

    size = 10 * n
    backends, rows = _backends()
    for backend, admin in backends:
        with _scratch_database(backend, workdir, "scale-triage", admin) as url:
            database.upgrade(url)
            start = time.perf_counter()
            bulk_insert_queries(database.get_engine(url), varied_queries(size, seed=21))
            built = time.perf_counter() - start
            database.dispose_engines()
            exact = _in_a_fresh_process(_EXACT_HASHING, url)
            triaged = _in_a_fresh_process(_TRIAGE, url)
        rows.append(row(f"scale: triage of {size:,} queries on {backend} (near-duplicates and secrets, fresh process) "
                        "vs exact-duplicate hashing of the same queries", triaged["seconds"], exact["seconds"],
                        note=f"peak {triaged['peak_mb']:.0f} MB, and {triaged['worker_peak_mb']:.0f} MB in each "
                             "worker process at most (target: under 5 min and 1,500 MB); "
                             f"{triaged['clusters']:,} clusters of {triaged['clustered']:,} queries, "
                             f"{triaged['with_secrets']:,} with secrets; database built in {built:.0f} s"))
        rows[-1]["peak_mb"] = round(triaged["peak_mb"])
    return rows


@benchmark
def scale_annotate_next_and_submit(n: int, workdir: Path) -> list[dict]:
    """Next item and submit at 10 x n queries (a million, 3 annotations each, inserted in bulk)
    vs the same at 1,000 queries, on SQLite."""
    from benchmarks.synthetic import populate

    size, rounds, n_open = 10 * n, 200, 400
    figures = {}
    for count in (1_000, size):
        start = time.perf_counter()
        info = populate(f"sqlite:///{workdir / f'scale-annotate-{count}.sqlite'}", n_queries=count, n_open=n_open,
                        workdir=workdir, bulk=True)
        built = time.perf_counter() - start
        figures[count] = (_annotate_loop(info["engine"], _bench_user(info["engine"]), rounds),
                          info["n_annotations"], built)
    (small_next, small_submit), _, _ = figures[1_000]
    (large_next, large_submit), n_annotations, built = figures[size]
    label = f"{size:,} queries / {n_annotations:,} annotations vs 1,000 queries"
    note = f"database built with bulk inserts in {built:.0f} s; target: within 1.5x"
    return [row(f"scale: next item, database work (median), {label}", large_next * 1000, small_next * 1000, "ms",
                note=note),
            row(f"scale: submit, database work (median), {label}", large_submit * 1000, small_submit * 1000, "ms",
                note=note)]


def run_one(name: str, n: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
        rows = BENCHMARKS[name](n, Path(workdir))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for item in rows:
        item.setdefault("peak_mb", round(peak_mb))  # a row measured in a fresh process brings its own
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
    failed: list[str] = []
    print(f"{'benchmark':<96} {'value':>10} {'baseline':>10} {'ratio':>7} {'peak MB':>8}")
    for name in args.only or list(BENCHMARKS):
        child = subprocess.run([sys.executable, __file__, "--child", name] + (["--quick"] if args.quick else []),
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        if child.returncode != 0:
            print(f"{name}: failed\n{child.stderr[-3000:]}", file=sys.stderr)
            failed.append(name)
            continue
        for item in json.loads(child.stdout.strip().splitlines()[-1]):
            results.append(item)
            print(f"{item['name'][:96]:<96} {item['value']:>9}{item['unit']:<1} {item['baseline']:>9}{item['unit']:<1} "
                  f"{'-' if item['ratio'] is None else item['ratio']:>7} {item['peak_mb']:>8}", flush=True)
            if item["note"]:
                print(f"    {item['note'][:200]}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
