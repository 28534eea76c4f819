"""Agreement for leads: per field with 95% intervals, annotator pairs, categories, confusions."""

from datetime import datetime, time

import altair as alt
import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import agreement, suggest
from curation_app.core.agreement import database as agreement_db
from curation_app.core.errors import CurationError
from curation_app.core.overview import batch_ids
from curation_app.core.project import load_project
from curation_app.database import database_url, read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.LEAD, Role.ADMIN)
st.title("Agreement")


@st.cache_data(show_spinner="Computing agreement...", max_entries=32)
def cached_reports(version: tuple, filters: agreement_db.Filters, n_bootstrap: int) -> dict:
    """Reports only change when annotations or final labels do: `version` is the cache key."""
    with read_scope() as session:
        return agreement_db.database_agreement(session, actor=user, filters=filters, n_bootstrap=n_bootstrap)


with read_scope() as session:
    version = agreement_db.data_version(session)
    batches = batch_ids(session)
    project = load_project(session)
    categories = list(project.taxonomy.categories)
    fields = list(agreement_db.field_levels(project))

with st.expander("Filters", expanded=False):
    chosen_batches = st.multiselect("Import batches", batches)
    chosen_categories = st.multiselect("Main categories", categories)
    dates = st.date_input("Submitted between", value=(), help="Leave empty for all dates")
    n_bootstrap = st.select_slider("Bootstrap resamples", options=[0, 200, 1000, 2000], value=1000)
since = datetime.combine(dates[0], time.min) if len(dates) >= 1 else None
until = datetime.combine(dates[1], time.max) if len(dates) == 2 else None
filters = agreement_db.Filters(tuple(chosen_batches), tuple(chosen_categories), since, until)
reports = cached_reports((database_url(), *version), filters, n_bootstrap)  # caches are per process


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


rows = []
for name, report in reports.items():
    for measure in agreement.MEASURES:
        if measure not in report:
            continue
        interval = report["ci95"].get(measure)
        rows.append({"field": name, "level": report["level"], "items": report["n_items"],
                     "annotators": report["n_annotators"], "measure": measure, "value": fmt(report[measure]),
                     "95% interval": f"{fmt(interval['low'])} to {fmt(interval['high'])}" if interval else "",
                     "why n/a": report["reasons"].get(measure, "") if report[measure] is None else ""})
st.subheader("Per field")
st.caption("On items with two or more submitted annotations. Intervals: bootstrap over items, seeded.")
table = pd.DataFrame(rows)
if table.empty or not any(r["n_items"] for r in reports.values()):
    st.info("No item has two or more submitted annotations yet.")
    st.stop()
st.dataframe(table, hide_index=True, width="stretch")

field = st.selectbox("Field for the details below", fields, index=2)
with read_scope() as session:
    annotations = agreement_db.annotation_table(session, actor=user, filters=filters, project=project)
    matrix = agreement_db.pairwise(project, annotations, field)
    per_category = agreement_db.by_category(project, annotations, field)
    versus_final = agreement_db.with_final_labels(session, project, annotations, field)
confusion = agreement_db.confusion(annotations, field)

left, right = st.columns(2)
with left:
    st.subheader("Annotator pairs")
    if matrix.empty:
        st.info("Not enough overlap between annotators.")
    else:
        long = matrix.rename_axis(index="annotator").reset_index().melt(
            id_vars="annotator", var_name="other", value_name="agreement").dropna()
        heatmap = alt.Chart(long).mark_rect().encode(
            x=alt.X("other:N", title=None), y=alt.Y("annotator:N", title=None),
            color=alt.Color("agreement:Q", scale=alt.Scale(domain=[-1, 1], scheme="redblue")),
            tooltip=["annotator", "other", alt.Tooltip("agreement:Q", format=".3f")])
        labels = heatmap.mark_text(baseline="middle").encode(text=alt.Text("agreement:Q", format=".2f"),
                                                             color=alt.value("black"))
        st.altair_chart(heatmap + labels, width="stretch")
        st.caption("Cohen's kappa per pair (quadratic-weighted for difficulty; alpha for languages).")
with right:
    st.subheader("Lowest agreement by category")
    if per_category.empty:
        st.info("Not enough items per category yet.")
    else:
        st.dataframe(per_category, hide_index=True, width="stretch")
        chart = alt.Chart(per_category.dropna(subset=["percent_agreement"])).mark_bar().encode(
            x=alt.X("percent_agreement:Q", scale=alt.Scale(domain=[0, 1]), title="percent agreement"),
            y=alt.Y("category:N", sort="x", title=None), tooltip=["category", "items", "percent_agreement"])
        st.altair_chart(chart, width="stretch")

if not confusion.empty:
    st.subheader(f"Confusions: {field}")
    st.caption("How often one value met another on the same item (all pairs of annotators).")
    st.dataframe(confusion, width="stretch")
st.subheader("Each annotator against the final labels")
if versus_final.empty:
    st.info("No final labels yet: they appear once items are adjudicated.")
else:
    st.dataframe(versus_final, width="stretch")

st.divider()
st.subheader("Suggestion model and language detector")


@st.cache_data(show_spinner="Training and evaluating the suggestion model...", max_entries=4)
def model_accuracy(version: tuple) -> dict:
    """Held-out accuracy per target; retrained only when final labels change (`version`)."""
    with read_scope() as session:
        try:
            return {"accuracy": suggest.train(session, actor=user).accuracy,
                    "languages": suggest.language_suggestion_accuracy(session)}
        except CurationError as error:
            return {"problem": str(error), "languages": suggest.language_suggestion_accuracy(session)}


with read_scope() as session:
    training_version = suggest.training_version(session)
figures = model_accuracy((database_url(), *training_version))
if "problem" in figures:
    st.info(f"Category model: {md(figures['problem'])}.")
else:
    st.dataframe(pd.DataFrame(figures["accuracy"]).T, width="stretch")
    st.caption("Held-out accuracy on 25% of the final labels: top 1, top 3, and always guessing the most "
               "common label (majority baseline).")
    columns = st.columns(2)
    if columns[0].button("Order the pool by the model's uncertainty", help="Most uncertain items first"):
        with session_scope() as session:
            ranked = suggest.order_queue_by_uncertainty(session, actor=user)
        st.success(f"{ranked['ranked']} open items reordered, most uncertain first.")
    if columns[1].button("Back to import order"):
        with session_scope() as session:
            suggest.reset_queue_order(session, actor=user)
        st.success("The pool is back in import order.")
languages = figures["languages"]
if languages.get("items"):
    st.caption(f"Language detector vs final languages on {languages['items']} kept items: top suggestion right "
               f"{languages['top1_accuracy']:.0%}, exact set {languages['exact_set_accuracy']:.0%}, precision "
               f"{languages['precision']:.0%}, recall {languages['recall']:.0%}.")
