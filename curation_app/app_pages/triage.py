"""Triage for leads: near-duplicate clusters, benchmark contamination, secrets and personal data, and
the coding-query score."""

import html
import tempfile
from pathlib import Path

import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import configure
from curation_app.core.errors import CurationError
from curation_app.core.project import load_project
from curation_app.core.triage import coding_queries
from curation_app.core.triage import database as triage_db
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.LEAD, Role.ADMIN)
st.title("Triage")
with read_scope() as session:
    project = load_project(session)
    ngram, threshold = project.ngram, project.duplicate_threshold
    coding_threshold = coding_queries.coding_threshold(session)

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
                       f"{len({s['id'] for s in report['secrets']})} query(ies) with secrets or personal data; "
                       f"{report['coding']['scored']} coding score(s) written, {report['coding']['coding']} "
                       f"coding query(ies) of {report['coding']['scored_total']}.")

with read_scope() as session:
    flagged = triage_db.flagged(session, actor=user)
    hits = triage_db.hits_in_context(session, actor=user)
    coding_counts = triage_db.coding_counts(session)
status_of = {f["id"]: f for f in flagged}
duplicates_tab, contamination_tab, secrets_tab, coding_tab = st.tabs(
    [f"Near-duplicates ({hits['clusters_total']})", f"Contamination ({len(hits['contamination'])})",
     f"Secrets and personal data ({len(hits['secrets'])})",
     f"Coding queries ({coding_counts['coding']} of {coding_counts['scored_total']})"])


def act(action, **kwargs) -> None:  # noqa: ANN001
    """A lead's decision, then a fresh run: every tab and count shows it at once."""
    try:
        with session_scope() as session:
            action(session, actor=user, **kwargs)
    except CurationError as error:
        st.error(md(error))
    else:
        st.rerun()


def in_context(before: str, hit: str, after: str) -> None:
    """A hit inside the text around it, the hit marked. Every part is escaped: shown, never run."""
    st.html('<div style="white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: .85rem; '
            'line-height: 1.4">' + html.escape(before) + '<mark style="background: rgba(255, 190, 0, .45)">'
            + html.escape(hit) + "</mark>" + html.escape(after) + "</div>")


def held_out_caption(public_id: str) -> str:
    flags = status_of.get(public_id, {})
    if flags.get("blocked"):
        return "held out of releases"
    if flags.get("cleared_by"):
        return f"cleared by {md(flags['cleared_by'])}: {md(flags.get('cleared_reason', ''))}"
    return "not held out"


def clear_controls(public_id: str, key: str) -> None:
    if not status_of.get(public_id, {}).get("blocked"):
        return
    reason = st.text_input("Why it may be released after all", key=f"reason:{key}")
    if st.button("Clear: it may be released", key=f"clear:{key}"):
        act(triage_db.clear_flags, public_id=public_id, reason=reason)


with duplicates_tab:
    if not hits["clusters"]:
        st.info("No near-duplicate cluster waiting for a decision.")
    elif hits["clusters_total"] > len(hits["clusters"]):
        st.caption(f"The first {len(hits['clusters'])} of {hits['clusters_total']} clusters.")
    for index, cluster in enumerate(hits["clusters"]):
        members = cluster["members"]
        with st.container(border=True):
            st.caption(f"Cluster of {len(members)}: " + md(", ".join(members)))
            for column, member in zip(st.columns(min(len(members), 3)), members[:3]):
                with column:
                    difference = cluster["differences"].get(member)
                    st.caption(md(member) + ("" if difference is None else
                                             f" ({difference['similarity']:.0%} of the words as {md(members[0])})"))
                    text = cluster["texts"][member]
                    st.text(text[:600] + (" ..." if len(text) > 600 else ""))  # plain text, never markup
                    for change in (difference or {}).get("differences", []):
                        in_context(change["before"] + " ", f"{change['reference'] or '∅'} → {change['other'] or '∅'}",
                                   " " + change["after"])
                    if difference and difference["more"]:
                        st.caption(f"and {difference['more']} more difference(s)")
                    if difference and not difference["differences"]:
                        st.caption("The same words.")
            decide = st.columns([2, 1])
            canonical = decide[0].selectbox("Keep as the canonical query", members, key=f"canonical:{index}")
            if decide[1].button("Mark the others as duplicates", key=f"mark:{index}"):
                act(triage_db.mark_duplicates, canonical=canonical,
                    duplicates=[member for member in members if member != canonical])

with contamination_tab:
    if not hits["contamination"]:
        st.info("No query overlaps a benchmark that was checked.")
    for index, hit in enumerate(hits["contamination"]):
        with st.container(border=True):
            text_column, decision_column = st.columns([3, 1])
            with text_column:
                st.caption(f"{md(hit['id'])}: words of {md(hit['benchmark'])} item {md(hit['item'])}"
                           + ("" if hit["found"] else " (no longer in the query's text as found)"))
                in_context(hit["before"], hit["overlap"], hit["after"])
            with decision_column:
                st.caption(held_out_caption(hit["id"]))
                clear_controls(hit["id"], f"contamination:{index}")

with secrets_tab:
    if not hits["secrets"]:
        st.info("No secret or personal data found.")
    else:
        st.caption("Secrets and personal data are masked here: the kind, the length and a few characters "
                   "that name the kind of key are shown, never the value.")
    for index, entry in enumerate(hits["secrets"]):
        with st.container(border=True):
            text_column, decision_column = st.columns([3, 1])
            with text_column:
                st.caption(f"{md(entry['id'])}: " + md(", ".join(h["kind"] for h in entry["hits"])))
                for hit in entry["hits"]:
                    if hit["masked"] is None:
                        st.caption(f"{md(hit['kind'])}: the text changed since it was found; run triage again")
                    else:
                        in_context(hit["before"], hit["masked"], hit["after"])
            with decision_column:
                st.caption(held_out_caption(entry["id"]))
                if st.button("Redact them", key=f"redact:{index}", type="primary",
                             help="Replaces each finding by [REDACTED] in the query's text"):
                    act(triage_db.redact_secrets, public_id=entry["id"])
                clear_controls(entry["id"], f"secrets:{index}")

with coding_tab:
    st.caption("How likely each query asks for help with code, 0 to 1, from the first user turn. "
               f"A query counts as coding from {coding_threshold:g} (the coding_threshold setting): that is what "
               "`assign --coding-only` selects.")
    shown_from = st.slider("Show queries scoring at least", 0.0, 1.0, coding_threshold, 0.05, key="coding_min")
    lowest_first = st.toggle("Lowest scores first (the borderline ones)", key="coding_lowest")
    with read_scope() as session:
        overview = triage_db.coding_overview(session, actor=user, min_score=float(shown_from),
                                             lowest_first=lowest_first)
    labels = overview["labels"]
    scorer = (f"the model trained on final labels ({labels['coding']} coding, {labels['not_coding']} not)"
              if min(labels["coding"], labels["not_coding"]) >= labels["needed"] else
              f"the rules: the model takes over at {labels['needed']} final labels of each class "
              f"(now {labels['coding']} coding, {labels['not_coding']} rejected as not a coding query)")
    last_run = overview["last_run"]
    st.write(f"{overview['scored_total']} scored, {overview['coding']} at or above {overview['threshold']:g}, "
             f"{overview['not_scored']} not scored yet. The next run scores with {scorer}"
             + (f"; the stored scores were written by the {last_run['scorer']} on {last_run['at']:%Y-%m-%d %H:%M} UTC."
                if last_run else "."))
    st.bar_chart({"score from": [f"{index / 10:.1f}" for index in range(10)], "queries": overview["histogram"]},
                 x="score from", y="queries", height=180)
    listed = len(overview["queries"])
    st.caption(f"{overview['matching']} queries score at least {shown_from:g}"
               + (f"; the first {listed} are listed." if overview["matching"] > listed else "."))
    if overview["queries"]:
        # A dataframe shows the texts as plain text, never as markup.
        st.dataframe([{"id": q["id"], "score": q["score"], "text": q["text"]} for q in overview["queries"]],
                     hide_index=True, width="stretch",
                     column_config={"score": st.column_config.NumberColumn(format="%.3f")})
    actions = st.columns(3)
    if actions[0].button("Score the queries without a score", key="coding_score"):
        act(lambda session, actor: triage_db.score_coding_queries(session, actor=actor))
    if actions[1].button("Score every query again", key="coding_rescore"):
        act(lambda session, actor: triage_db.score_coding_queries(session, actor=actor, rescore=True))
    if shown_from != coding_threshold and actions[2].button(f"Make {shown_from:g} the project's threshold",
                                                           key="coding_threshold"):
        act(configure.change_setting, key="coding_threshold", value=float(shown_from))

st.divider()
blocked = [f["id"] for f in flagged if f.get("blocked")]
st.subheader(f"Held out of releases ({len(blocked)})")
if blocked:
    target = st.selectbox("Query to clear", blocked, key="clear_target")
    reason = st.text_input("Why it may be released after all", key="clear_reason")
    if st.button("Clear its flags", key="clear"):
        act(triage_db.clear_flags, public_id=target, reason=reason)
else:
    st.write("No query is held out.")
