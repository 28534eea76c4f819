"""The annotation guidelines, current version first, and their changelog."""

import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core.guidelines import available_versions, guideline_document
from curation_app.core.project import load_project
from curation_app.database import read_scope
from curation_app.models import Role

require(current_user(), Role.ANNOTATOR, Role.REVIEWER, Role.LEAD, Role.ADMIN)
with read_scope() as session:
    current = load_project(session).guideline_version
versions = available_versions()
choices = [current] + [v for v in reversed(versions) if v != current]
version = st.selectbox("Version", choices, format_func=lambda v: f"{v} (current)" if v == current else v)
document = guideline_document(version)
if document["title"]:
    st.title(document["title"])
if document["fields"]:
    st.caption(" · ".join(f"{md(name.replace('_', ' '))}: **{md(value)}**" for name, value in document["fields"].items()))
st.markdown(document["body"])  # the project's own files, not user text
if document["changelog"]:
    st.divider()
    with st.expander("Changelog (CHANGELOG.md)", expanded=False):
        st.markdown(document["changelog"])
