"""Admins import raw queries (or baseline answers) from a file, as `python -m curation_app import`
does: the same summary, and a bad file refused whole with the line or row of each problem."""

import tempfile
from pathlib import Path

import streamlit as st

from curation_app.app_pages.session import current_user, require, switch_to
from curation_app.app_pages.widgets import md
from curation_app.core import import_report
from curation_app.core.errors import CurationError, ImportRefused
from curation_app.core.importer import import_answers, import_file, looks_like_answers
from curation_app.core.triage import database as triage_db
from curation_app.models import Role

user = require(current_user(), Role.ADMIN)
st.title("Import queries")
st.caption("JSONL, JSON, CSV or Parquet (optionally .gz) in the usual chat shapes: CodeArena `messages`, "
           "Arena-Hard `turns`, ShareGPT `conversations`, MT-Bench, or a flat `prompt` / `instruction` / "
           "`question` / `query` / `text` field. Extra fields are kept as metadata, `*_response` fields as "
           "baseline answers. An Arena-Hard answers file adds baseline answers to queries already here.")

uploaded = st.file_uploader("File", type=["jsonl", "json", "csv", "parquet", "gz"], key="import:file")
if uploaded is not None:  # drawn by the server: the file it will import, once its upload is through
    st.caption(f"Ready to import: {md(uploaded.name)} ({uploaded.size:,} bytes)")
left, right = st.columns(2, gap="large")
with left:
    source = st.text_input("Source name", placeholder="default: the file name up to the first dot",
                           key="import:source", help="Kept with every query as its provenance.")
    text_field = st.text_input("Text field", placeholder="detected", key="import:text_field",
                               help="The field holding the query text, when detection cannot decide.")
with right:
    file_format = st.selectbox("Format", ["detect", "jsonl", "json", "csv", "parquet"], key="import:format")
    skip_bad_rows = st.checkbox("Import the good rows and list the bad ones (instead of refusing the file)",
                                key="import:skip")
    run_triage = st.checkbox("Check the new queries for near-duplicates and secrets afterwards", value=True,
                             key="import:triage")



def run_import(upload) -> dict:  # noqa: ANN001 - Streamlit's UploadedFile
    """What to show: ("refused" | "error" | "answers" | "imported", headline, detail lines)."""
    with tempfile.TemporaryDirectory(prefix="curation-upload-") as folder:
        # Under its own name: the source, the batch's file name and every message name the file.
        path = Path(folder) / Path(upload.name).name
        path.write_bytes(upload.getvalue())
        total = max(path.stat().st_size, 1)
        bar = st.progress(0.0, text=f"Reading {upload.name}")
        done = {"bytes": 0, "shown": 0}

        def advance(count: int) -> None:
            done["bytes"] += count
            percent = min(100, done["bytes"] * 100 // total)
            if percent > done["shown"]:  # one message per percent, not one per line
                done["shown"] = percent
                bar.progress(percent / 100, text=f"Reading {upload.name}: {percent}%")

        try:
            if looks_like_answers(path):
                lines = import_report.answers_lines(
                    import_answers(path, actor=user, source=source.strip() or None).as_dict(), path.name)
                return {"kind": "answers", "headline": lines[0], "lines": lines[1:]}
            summary = import_file(path, actor=user, source=source.strip() or None,
                                  text_field=text_field.strip() or None,
                                  file_format=None if file_format == "detect" else file_format,
                                  skip_bad_rows=skip_bad_rows, on_progress=advance)
        except ImportRefused as refused:
            return {"kind": "refused", "lines": import_report.problem_lines(refused),
                    "headline": import_report.refusal_line(refused).replace(
                        "pass --skip-bad-rows", "tick 'Import the good rows'")}
        except CurationError as error:
            return {"kind": "error", "headline": str(error), "lines": []}
        finally:
            bar.empty()
    result = summary.as_dict()
    if result["imported"] and run_triage:
        with st.spinner("Checking the new queries for near-duplicates and secrets"):
            try:
                result["triage"] = import_report.triage_summary(triage_db.triage_beside_writers(actor=user))
            except CurationError as error:  # the import stands; triage can be run again on its own
                result["triage"] = {"error": str(error)}
    lines = import_report.summary_lines(result, path.name)
    return {"kind": "imported" if result["imported"] else "answers", "headline": lines[0],
            "lines": [line.strip() for line in lines[1:]]}


if st.button("Import", type="primary", disabled=uploaded is None, key="import:go"):
    st.session_state["import:outcome"] = {**run_import(uploaded), "file": (uploaded.name, uploaded.size)}
outcome = st.session_state.get("import:outcome")
if outcome and uploaded is not None and outcome.get("file") != (uploaded.name, uploaded.size):
    outcome = None  # another file chosen since: the last outcome is not about it
if outcome:
    if outcome["kind"] in ("refused", "error"):
        st.error(md(outcome["headline"]), icon=":material/block:")
    else:
        st.success(md(outcome["headline"]), icon=":material/check_circle:")
    if outcome["lines"]:
        st.code("\n".join(outcome["lines"]), language=None, wrap_lines=True)
    if outcome["kind"] == "imported":
        st.info("Annotators do not see new queries until they are assigned: open them to everyone or name "
                "annotators on Assign work.")
        if st.button("Go to Assign work", icon=":material/group_add:", key="import:to_assign"):
            st.session_state.pop("import:outcome")
            switch_to("assign")
