"""Agreement for leads: per field with 95% intervals, annotator pairs, categories, confusions."""

from datetime import datetime, time

import altair as alt
import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import agreement, agreement_views, suggest
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


MEASURE_NAMES = {"percent_agreement": "percent agreement", "krippendorff_alpha": "Krippendorff's alpha",
                 "fleiss_kappa": "Fleiss' kappa", "cohen_kappa": "Cohen's kappa",
                 "cohen_kappa_linear": "Cohen's kappa, linear weights",
                 "cohen_kappa_quadratic": "Cohen's kappa, quadratic weights", "gwet_ac1": "Gwet's AC1",
                 "jaccard": "Jaccard (mean over pairs)"}


def contrast_text(field: str, threshold: str):  # noqa: ANN201 - an Altair condition
    """White text on the dark end of the colour scale, black on the light part."""
    return alt.condition(f"{field} > {threshold}", alt.value("white"), alt.value("black"))


measures = agreement_views.field_measures(reports)
st.subheader("Per field")
if measures.empty or not any(r["n_items"] for r in reports.values()):
    st.info("No item has two or more submitted annotations yet.")
    st.stop()
st.caption("On items with two or more submitted annotations. Bars: 95% bootstrap intervals over items, seeded. "
           "Below 0.67 (alpha) agreement is usually too low to trust the labels; 0.8 and above is good.")
shown_measures = [m for m in agreement.MEASURES if m in set(measures["measure"])]
measure = st.selectbox("Measure", shown_measures, index=shown_measures.index("krippendorff_alpha"),
                       format_func=lambda m: MEASURE_NAMES.get(m, m))
chosen = measures[measures["measure"] == measure]
defined = chosen.dropna(subset=["value"])
field_axis = alt.Y("field:N", sort=list(chosen["field"]), title=None, axis=alt.Axis(labelFontSize=14, labelLimit=0))
lowest = defined["low"].min(skipna=True) if defined["low"].notna().any() else 0.0
scale = alt.Scale(domain=[min(0.0, float(lowest)), 1], nice=False)
base = alt.Chart(defined.assign(
    shown=[f"{v:.2f}" + ("" if pd.isna(lo) else f"  [{lo:.2f}, {hi:.2f}]")
           for v, lo, hi in zip(defined["value"], defined["low"], defined["high"])])).encode(y=field_axis)
tooltip = ["field", "level", "items", "annotators", alt.Tooltip("value:Q", format=".3f"),
           alt.Tooltip("low:Q", format=".3f", title="95% low"), alt.Tooltip("high:Q", format=".3f", title="95% high")]
interval = base.mark_rule(strokeWidth=4, color="#6baed6").encode(
    x=alt.X("low:Q", scale=scale, title=MEASURE_NAMES.get(measure, measure)), x2="high:Q", tooltip=tooltip)
point = base.mark_point(filled=True, size=160, color="#08519c", opacity=1).encode(
    x=alt.X("value:Q", scale=scale), tooltip=tooltip)
zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#888", strokeDash=[4, 4]).encode(x="x:Q")
height = 52 * len(chosen)
numbers = base.mark_text(align="left", fontSize=14).encode(
    y=alt.Y("field:N", sort=list(chosen["field"]), axis=None), x=alt.value(0), text="shown:N").properties(
    width=190, height=height, title=alt.TitleParams("value  [95% interval]", fontSize=13, anchor="start"))
plot = (zero + interval + point).properties(height=height, width=560)
st.altair_chart(alt.hconcat(plot, numbers, spacing=24).configure_view(stroke=None), width="content")
for _, row in chosen.iterrows():
    if row["why_not"]:
        st.caption(f"**{row['field']}**: {md(row['why_not'])}")
with st.expander("Every measure per field"):
    st.dataframe(agreement_views.field_table(measures), hide_index=True, width="stretch", height="content",
                 column_config={m: st.column_config.TextColumn(MEASURE_NAMES.get(m, m)) for m in agreement.MEASURES})
    st.caption("Each cell: value [95% interval]. n/a: undefined on these data (the reason is in the CLI's "
               "`agreement --json`); empty: the measure does not apply to the field's level.")

field = st.selectbox("Field for the details below", fields, index=fields.index("category") if "category" in fields else 0)
with read_scope() as session:
    annotations = agreement_db.annotation_table(session, actor=user, filters=filters, project=project)
    matrix = agreement_db.pairwise(project, annotations, field)
    per_category = agreement_db.by_category(project, annotations, field)
    versus_final = agreement_db.with_final_labels(session, project, annotations, field)
confusion = agreement_views.ordered_confusion(project, annotations, field)

st.subheader("Annotator pairs")
cells = agreement_views.pair_cells(matrix)
if cells.empty:
    st.info("Not enough overlap between annotators (a pair needs two shared items).")
else:
    names = list(matrix.index)
    side = max(240, 64 * len(names))
    axis = alt.Axis(labelFontSize=14, labelLimit=0, labelAngle=0)
    heatmap = alt.Chart(cells).mark_rect(stroke="white", strokeWidth=2).encode(
        x=alt.X("other:N", sort=names, title=None, axis=alt.Axis(orient="top", labelFontSize=14, labelLimit=0,
                                                                 labelAngle=0 if len(names) <= 8 else -45)),
        y=alt.Y("annotator:N", sort=names, title=None, axis=axis),
        color=alt.Color("agreement:Q", scale=alt.Scale(domain=[-1, 1], scheme="redblue"),
                        legend=alt.Legend(title="agreement", gradientLength=side - 40)),
        tooltip=["annotator", "other", alt.Tooltip("agreement:Q", format=".3f")])
    text = heatmap.mark_text(baseline="middle", fontSize=15).encode(
        text=alt.Text("agreement:Q", format=".2f"), color=contrast_text("abs(datum.agreement)", "0.55"))
    columns = st.columns([2, 1]) if len(names) <= 6 else [st.container()]
    with columns[0]:
        st.altair_chart((heatmap + text).properties(height=side, width=side + 200), width="content")
    st.caption("Cohen's kappa per pair on the items both labelled (quadratic-weighted for difficulty; "
               "Krippendorff's alpha for languages and score fields). Empty: fewer than two shared items.")

st.subheader(f"Confusions: {field}")
if confusion.empty:
    st.info("Confusions are shown for fields with a fixed list of values (not languages or scores).")
else:
    counts = agreement_views.confusion_cells(confusion)
    values = list(confusion.index)
    cell = 56 if len(values) <= 8 else 26
    label_px = 8 * max(len(str(v)) for v in values)  # room for the longest label, never cut short
    rotated = len(values) > 4 or label_px > cell * 1.5
    top = float(counts["count"].max()) or 1.0
    grid = alt.Chart(counts).mark_rect(stroke="white", strokeWidth=1).encode(
        x=alt.X("value_b:N", sort=values, title="another annotator's value",
                axis=alt.Axis(orient="top", labelLimit=0, labelAngle=-40 if rotated else 0, labelFontSize=13,
                              labelOverlap=False)),
        y=alt.Y("value_a:N", sort=values, title="one annotator's value", axis=alt.Axis(labelLimit=0, labelFontSize=13)),
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues", domain=[0, top]), legend=None),
        tooltip=[alt.Tooltip("value_a:N", title="one annotator"), alt.Tooltip("value_b:N", title="another"),
                 "count", alt.Tooltip("share_of_row:Q", format=".0%", title="share of the row")])
    numbers = grid.mark_text(baseline="middle", fontSize=13 if len(values) <= 12 else 10).encode(
        text="count:Q", color=contrast_text("datum.count", str(top / 2)))
    # The chart's size includes its labels: room for them on top of the cells.
    st.altair_chart((grid + numbers).properties(width=cell * len(values) + label_px + 40,
                                                height=cell * len(values) + (label_px * 0.7 if rotated else 40) + 30),
                    width="content")
    st.caption("How often one value met another on the same item, over every pair of annotators (each item "
               "with m labels adds m(m-1) pairs, so the matrix is symmetric); the diagonal is agreement. "
               "Values in the order the taxonomy lists them.")

st.subheader("Lowest agreement by category")
if per_category.empty:
    st.info("Not enough items per category yet.")
else:
    left, right = st.columns(2)
    with left:
        st.dataframe(per_category, hide_index=True, width="stretch", height="content",
                     column_config={"percent_agreement": st.column_config.NumberColumn("percent agreement", format="percent"),
                                    "krippendorff_alpha": st.column_config.NumberColumn("alpha", format="%.3f")})
    with right:
        chart = alt.Chart(per_category.dropna(subset=["percent_agreement"])).mark_bar().encode(
            x=alt.X("percent_agreement:Q", scale=alt.Scale(domain=[0, 1]), title="percent agreement",
                    axis=alt.Axis(format="%")),
            y=alt.Y("category:N", sort="x", title=None, axis=alt.Axis(labelLimit=0, labelFontSize=13)),
            tooltip=["category", "items", alt.Tooltip("percent_agreement:Q", format=".0%")])
        st.altair_chart(chart.properties(height=36 * len(per_category) + 40), width="stretch")

st.subheader("Each annotator against the final labels")
if versus_final.empty:
    st.info("No final labels yet: they appear once items are adjudicated.")
else:
    st.dataframe(versus_final, hide_index=True, width="stretch", height="content",
                 column_config={"n": st.column_config.NumberColumn("items final"),
                                "percent_agreement": st.column_config.NumberColumn("percent agreement", format="percent"),
                                **{m: st.column_config.NumberColumn(MEASURE_NAMES.get(m, m), format="%.3f")
                                   for m in versus_final.columns if m not in ("annotator", "n", "percent_agreement")}})

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
    st.dataframe(pd.DataFrame(figures["accuracy"]).T, width="stretch", height="content")
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
