"""An annotator's submitted items, each editable until a lead finalises it."""

import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require, switch_to
from curation_app.app_pages.widgets import md
from curation_app.core import annotate
from curation_app.database import read_scope
from curation_app.models import Role

user = require(current_user(), Role.ANNOTATOR)
st.title("My work")
with read_scope() as session:
    items = annotate.submitted_items(session, actor=user)
if not items:
    st.info("You have not submitted anything yet.")
    st.stop()
table = pd.DataFrame(items)
if not table["scores"].any():
    table = table.drop(columns="scores")  # the project has no score fields
if not table["reject_reason"].any():
    table = table.drop(columns="reject_reason")
# Times as the annotator's browser tells them (stored in UTC).
zone = st.context.timezone or "UTC"
for column in ("submitted_at", "updated_at"):
    table[column] = pd.to_datetime(table[column], utc=True).dt.tz_convert(zone).dt.strftime("%Y-%m-%d %H:%M")
st.caption(f"{len(items)} submitted item(s), newest first. Select one to edit it.")
picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                      key="my_work_table",
                      column_config={"editable": st.column_config.CheckboxColumn("editable"),
                                     "first_line": st.column_config.TextColumn("first line", width="large"),
                                     "submitted_at": "submitted", "updated_at": "updated"})
rows = picked.selection.rows if picked else []
if rows:
    item = items[rows[0]]
    if item["editable"]:
        if st.button(f"Edit {md(item['query'])}", type="primary", icon=":material/edit:"):
            switch_to("annotate", item=item["query"])
    else:
        st.info(f"{md(item['query'])} has been finalised by a lead and can no longer be edited.")
