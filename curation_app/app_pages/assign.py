"""Leads release queries to annotators: to the shared pool or to named annotators, with overlap k
(the project's, or one for this assignment only); and sample candidates, a seeded, stratified
batch of queries opened at once or assigned later by its name."""

import re

import pandas as pd
import streamlit as st

from curation_app.app_pages.admin_common import flash, save_settings, show_flash, show_warnings
from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import auth, configure, queue, sampling
from curation_app.core.errors import CurationError
from curation_app.core.overview import overview
from curation_app.core.project import load_project
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.LEAD, Role.ADMIN)
st.title("Assign work")
show_flash()
# Every action below ends in a rerun, so these counts are always read after the last change.
with read_scope() as session:
    summary = queue.pool_summary(session)
    annotators = [u.name for u in auth.list_users(session) if u.role == Role.ANNOTATOR and u.active]
    sources = [s["source"] for s in overview(session)["sources"]]
    project = load_project(session)
    stored_warnings = configure.warnings_for(session)
    samples = sampling.list_samples(session)

ANY_SAMPLE = "(any query)"
SAMPLE_REPORT = "assign:sample_report"

columns = st.columns(5)
columns[0].metric("Queries", f"{summary['queries']:,}")
columns[1].metric("Released", f"{summary['released']:,}")
columns[2].metric("Not released", f"{summary['not_released']:,}",
                  help="Imported but not yet open to anyone: annotators do not see these.")
columns[3].metric("Open slots", f"{summary['open_slots']:,}")
columns[4].metric("Overlap k", summary["overlap"])
if summary["assignments"]:
    st.dataframe(pd.DataFrame([summary["assignments"]]), hide_index=True)
show_warnings(stored_warnings)

queue_column, assign_column = st.columns([2, 3], gap="large")
with queue_column:
    st.subheader("Queue settings")
    st.caption(f"The acceptance rule finalises an item once it has {project.rule.min_annotations} annotations "
               f"and {project.rule.keep_quorum} agree.")
    overlap = st.number_input("Annotators per query (overlap k)", min_value=1, max_value=20,
                              value=summary["overlap"], key="assign:setting:overlap")
    reservation = st.number_input("Minutes an opened item stays reserved", min_value=1, max_value=1440,
                                  value=project.reservation_minutes, key="assign:setting:reservation")
    changes = {key: int(value) for key, value, old in (
        ("overlap", overlap, summary["overlap"]), ("reservation_minutes", reservation, project.reservation_minutes))
        if value != old}
    if changes:
        with read_scope() as session:
            show_warnings(configure.warnings_for(session, changes), prefix="If saved: ")
    if st.button("Save queue settings", disabled=not changes, key="assign:save_settings"):
        save_settings(actor=user, changes=changes, widget_prefix="assign:setting:")

with assign_column:
    st.subheader("Assign")
    with st.form("assign"):
        named = st.multiselect("Annotators (leave empty to open the queries to every annotator)", annotators)
        chosen_sources = st.multiselect("Sources (leave empty for all)", sources)
        ids_text = st.text_area("Query ids (leave empty for every query not yet final)", height=80,
                                placeholder="one per line, or separated by commas or spaces")
        chosen_sample = st.selectbox("Candidate sample", [ANY_SAMPLE] + [s["name"] for s in samples],
                                     help="Only the queries of this sample (made below).", key="assign:sample")
        per_query = st.number_input(
            "With named annotators: annotators per query in this assignment", min_value=1, max_value=20,
            value=summary["overlap"],
            help="For this assignment only; the project's overlap k stays as it is, and any slots up to k "
                 "stay open to every annotator.")
        submitted = st.form_submit_button("Assign", type="primary")
if submitted:
    public_ids = [part for part in re.split(r"[\s,]+", ids_text) if part]
    try:
        with session_scope() as session:
            result = queue.assign(session, actor=user, annotators=named or None, sources=chosen_sources or None,
                                  public_ids=public_ids or None, overlap=int(per_query) if named else None,
                                  samples=[chosen_sample] if chosen_sample != ANY_SAMPLE else None)
    except CurationError as error:
        st.error(md(error))
    else:
        if result["mode"] == "pool":
            flash("success", f"{result['opened']:,} more queries are open to every annotator "
                             f"({result['queries']:,} selected, overlap {result['overlap']}).")
        else:
            flash("success", f"{result['assigned']:,} assignments made over {result['queries']:,} queries "
                             f"({result['overlap']} annotator(s) each): "
                             + ", ".join(f"{name} {n}" for name, n in result["per_annotator"].items()))
        st.rerun()


st.subheader("Sample candidates")
st.caption("Choose a seeded, stratified sample of the queries not yet in annotation (confirmed or possible "
           "duplicates, queries held out by triage, final ones and earlier samples are skipped). The same seed "
           "on the same database chooses the same queries.")
with st.form("sample"):
    columns = st.columns(3)
    size = columns[0].number_input("Queries to choose", min_value=1, max_value=sampling.MAX_SIZE, value=2000,
                                   key="sample:size")
    seed = columns[1].number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key="sample:seed")
    floor = columns[2].number_input("At least this many per stratum", min_value=0, max_value=1000,
                                    value=sampling.DEFAULT_FLOOR, key="sample:floor")
    strata = st.multiselect("Strata", list(sampling.STRATA_KEYS), default=list(sampling.DEFAULT_STRATA),
                            key="sample:strata",
                            help="language: the detected programming language; topic: a cluster of the query's "
                                 "words; source: where the query was imported from. None: a plain random draw.")
    coding_only = st.checkbox("Coding queries only", help="Only queries the coding-query detector scored at or "
                                                          "above the coding threshold.", key="sample:coding_only")
    sample_name = st.text_input("Name (leave empty for sample-N)", max_chars=200, key="sample:name")
    open_now = st.checkbox("Open to every annotator now", value=True,
                           help="Otherwise the sample waits: choose it above to assign it, to named annotators "
                                "or to the pool.", key="sample:open_now")
    sampled = st.form_submit_button("Sample", type="primary")
if sampled:
    spec = sampling.SampleSpec(size=int(size), seed=int(seed), by=tuple(strata), coding_only=coding_only,
                               floor=int(floor), name=sample_name.strip() or None)
    try:
        with st.spinner("Sampling..."):
            report = sampling.sample_candidates(actor=user, spec=spec, open_to_pool=open_now)
    except CurationError as error:
        st.error(md(error))
    else:
        st.session_state[SAMPLE_REPORT] = report
        opened = (f"{report['opened']:,} opened to every annotator" if report["open_to_pool"]
                  else "not opened yet: choose it under Assign")
        flash("success", f"Sample {report['name']}: {report['size_chosen']:,} of {report['size_asked']:,} queries "
                         f"chosen; {opened}.")
        st.rerun()
report = st.session_state.get(SAMPLE_REPORT)
if report:
    st.markdown(md(f"Coverage of {report['name']}: {report['candidates']:,} candidates among "
                   f"{report['queries']:,} queries"))
    if report["skipped"]:
        st.caption(md("Skipped: " + ", ".join(f"{n:,} {why}" for why, n in report["skipped"].items())))
    for problem in report["problems"]:
        st.warning(md(problem), icon=":material/warning:")
    st.dataframe(pd.DataFrame(report["strata"], columns=["stratum", "available", "asked", "chosen"]),
                 hide_index=True, width="stretch")
if samples:
    with st.expander(f"Recorded samples ({len(samples)})"):
        st.dataframe(pd.DataFrame([{**s, "by": ", ".join(s["by"]) or "none"} for s in samples]),
                     hide_index=True, width="stretch")
