"""Leads release queries to annotators: to the shared pool or to named annotators, with overlap k."""

import pandas as pd
import streamlit as st

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
with read_scope() as session:
    summary = queue.pool_summary(session)
    annotators = [u.name for u in auth.list_users(session) if u.role == Role.ANNOTATOR and u.active]
    sources = [s["source"] for s in overview(session)["sources"]]
    minutes = load_project(session).reservation_minutes

columns = st.columns(4)
columns[0].metric("Queries", f"{summary['queries']:,}")
columns[1].metric("Released", f"{summary['released']:,}")
columns[2].metric("Open slots", f"{summary['open_slots']:,}")
columns[3].metric("Overlap k", summary["overlap"])
if summary["assignments"]:
    st.dataframe(pd.DataFrame([summary["assignments"]]), hide_index=True)

with st.form("assign"):
    overlap = st.number_input("Annotators per query (overlap k)", min_value=1, max_value=20,
                              value=summary["overlap"])
    reservation = st.number_input("Minutes an opened item stays reserved", min_value=1, max_value=1440,
                                  value=minutes)
    named = st.multiselect("Annotators (leave empty to open the queries to every annotator)", annotators)
    chosen_sources = st.multiselect("Sources (leave empty for all)", sources)
    submitted = st.form_submit_button("Assign", type="primary")
if submitted:
    try:
        with session_scope() as session:
            if overlap != summary["overlap"]:
                configure.change_setting(session, actor=user, key="overlap", value=int(overlap))
            if reservation != minutes:
                configure.change_setting(session, actor=user, key="reservation_minutes", value=int(reservation))
            result = queue.assign(session, actor=user, annotators=named or None, sources=chosen_sources or None)
    except CurationError as error:
        st.error(md(error))
    else:
        if result["mode"] == "pool":
            st.success(f"{result['opened']:,} more queries are open to every annotator "
                       f"({result['queries']:,} selected, overlap {result['overlap']}).")
        else:
            st.success(f"{result['assigned']:,} assignments made over {result['queries']:,} queries: "
                       + md(", ".join(f"{name} {n}" for name, n in result["per_annotator"].items())))
