import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.core.overview import overview
from curation_app.database import read_scope
from curation_app.models import Role

require(current_user(), Role.ANNOTATOR, Role.LEAD, Role.ADMIN)
st.title("Overview")
with read_scope() as session:
    stats = overview(session)

columns = st.columns(5)
columns[0].metric("Queries", f"{stats['queries']:,}")
columns[1].metric("With baseline answer", f"{stats['with_baseline_answer']:,}")
columns[2].metric("Multi-turn", f"{stats['multi_turn']:,}")
columns[3].metric("Submitted annotations", f"{stats['annotations']:,}")
columns[4].metric("Final labels", f"{stats['final_labels']:,}")

st.subheader("Sources")
if stats["sources"]:
    st.dataframe(pd.DataFrame(stats["sources"]), hide_index=True, width="stretch")
else:
    st.info("No queries yet. Import some with `python -m curation_app import FILE`.")

st.subheader("Import batches")
if stats["batches"]:
    st.dataframe(pd.DataFrame(stats["batches"]), hide_index=True, width="stretch")
