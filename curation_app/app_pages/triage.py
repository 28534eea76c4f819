"""Triage for leads: near-duplicate clusters, benchmark contamination, secrets and personal data."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core.errors import CurationError
from curation_app.core.project import load_project
from curation_app.core.triage import database as triage_db
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.LEAD, Role.ADMIN)
st.title("Triage")
with read_scope() as session:
    project = load_project(session)
    ngram, threshold = project.ngram, project.duplicate_threshold

with st.form("run"):
    columns = st.columns(2)
    chosen_threshold = columns[0].slider("Near-duplicate similarity", 0.5, 1.0, float(threshold), 0.01)
    chosen_ngram = columns[1].number_input("Contamination: word n-gram length", 3, 50, int(ngram))
    uploads = st.file_uploader("Public benchmark files to check against (JSONL or .jsonl.gz)",
                               accept_multiple_files=True)
    run = st.form_submit_button("Run triage over every query", type="primary")
if run:
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for upload in uploads or []:
            path = Path(folder) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            paths.append(path)
        try:
            report = triage_db.triage_beside_writers(actor=user, benchmark_files=paths, ngram=int(chosen_ngram),
                                                     threshold=float(chosen_threshold))
        except CurationError as error:
            st.error(md(error))
        else:
            st.success(f"{len(report['duplicate_clusters'])} near-duplicate cluster(s), "
                       f"{len(report['contaminated'])} contamination hit(s), "
                       f"{len({s['id'] for s in report['secrets']})} query(ies) with secrets or personal data.")

with read_scope() as session:
    flagged = triage_db.flagged(session, actor=user)
    clusters = {tuple(f["duplicate_cluster"]) for f in flagged
                if f.get("duplicate_cluster") and not f.get("duplicate_of")}
    shown_clusters = sorted(clusters)[:50]
    texts = triage_db.query_texts(session, actor=user, public_ids=[m for c in shown_clusters for m in c])
duplicates_tab, contamination_tab, secrets_tab = st.tabs(
    [f"Near-duplicates ({len(clusters)})", f"Contamination ({sum(1 for f in flagged if f.get('contamination'))})",
     f"Secrets and personal data ({sum(1 for f in flagged if f.get('secrets'))})"])


def act(action, **kwargs) -> None:  # noqa: ANN001
    try:
        with session_scope() as session:
            action(session, actor=user, **kwargs)
    except CurationError as error:
        st.error(md(error))
    else:
        st.rerun()


with duplicates_tab:
    if not clusters:
        st.info("No near-duplicate cluster waiting for a decision.")
    for index, cluster in enumerate(shown_clusters):
        with st.container(border=True):
            st.caption(f"Cluster of {len(cluster)}: " + md(", ".join(cluster)))
            for column, member in zip(st.columns(min(len(cluster), 3)), cluster[:3]):
                column.caption(md(member))
                text = texts.get(member, "")
                column.text(text[:600] + (" ..." if len(text) > 600 else ""))  # plain text, never markup
            canonical = st.selectbox("Keep as the canonical query", cluster, key=f"canonical:{index}")
            if st.button("Mark the others as duplicates", key=f"mark:{index}"):
                act(triage_db.mark_duplicates, canonical=canonical,
                    duplicates=[member for member in cluster if member != canonical])

with contamination_tab:
    rows = [{"id": f["id"], "benchmark": hit["benchmark"], "item": hit["item"], "evidence": hit["evidence"],
             "blocked": f.get("blocked", False)} for f in flagged for hit in f.get("contamination", [])]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.info("No query overlaps a benchmark that was checked.")

with secrets_tab:
    rows = [{"id": f["id"], "kind": hit["kind"], "characters": f"{hit['span'][0]}-{hit['span'][1]}",
             "blocked": f.get("blocked", False)} for f in flagged for hit in f.get("secrets", [])]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        target = st.selectbox("Query", sorted({r["id"] for r in rows}), key="secret_target")
        if st.button("Redact its secrets and personal data", key="redact"):
            act(triage_db.redact_secrets, public_id=target)
    else:
        st.info("No secret or personal data found.")

st.divider()
blocked = [f["id"] for f in flagged if f.get("blocked")]
st.subheader(f"Held out of releases ({len(blocked)})")
if blocked:
    target = st.selectbox("Query to clear", blocked, key="clear_target")
    reason = st.text_input("Why it may be released after all", key="clear_reason")
    if st.button("Clear its flags", key="clear"):
        act(triage_db.clear_flags, public_id=target, reason=reason)
