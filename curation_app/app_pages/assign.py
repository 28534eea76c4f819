"""Leads release queries to annotators: to the shared pool or to named annotators, with overlap k
(the project's, or one for this assignment only)."""

import re

import pandas as pd
import streamlit as st

from curation_app.app_pages.admin_common import flash, save_settings, show_flash, show_warnings
from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import auth, configure, queue
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
                                  public_ids=public_ids or None, overlap=int(per_query) if named else None)
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
