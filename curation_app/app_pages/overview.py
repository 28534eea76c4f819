"""Overview: what was imported, where the queries are, and (for leads) what each annotator has done."""

import altair as alt
import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.core import progress
from curation_app.core.overview import overview
from curation_app.database import read_scope
from curation_app.models import Role

user = require(current_user(), Role.ANNOTATOR, Role.LEAD, Role.ADMIN)
is_lead = user.role in (Role.LEAD, Role.ADMIN)
st.title("Overview")
with read_scope() as session:
    stats = overview(session)
    funnel = progress.stage_funnel(session)
    if is_lead:
        people = progress.annotator_progress(session, actor=user)
        per_day = progress.throughput_per_day(session, actor=user)
        timing = progress.time_on_task(session, actor=user)

columns = st.columns(5)
columns[0].metric("Queries", f"{stats['queries']:,}")
columns[1].metric("With baseline answer", f"{stats['with_baseline_answer']:,}")
columns[2].metric("Multi-turn", f"{stats['multi_turn']:,}")
columns[3].metric("Submitted annotations", f"{stats['annotations']:,}")
columns[4].metric("Final labels", f"{stats['final_labels']:,}")

st.subheader("Where the queries are")
retired = f" {stats['retired']:,} confirmed duplicates are retired and not counted." if stats["retired"] else ""
st.caption("Each query at the furthest stage it has reached (dark bar, number on the right); the light bar "
           "counts the queries at that stage or further." + retired)
order = list(funnel["stage"])
stage_axis = alt.Y("stage:N", sort=order, title=None, axis=alt.Axis(labelFontSize=14, labelLimit=0))
reached = alt.Chart(funnel).mark_bar(color="#c6dbef").encode(
    y=stage_axis, x=alt.X("reached:Q", title="queries"),
    tooltip=["stage", alt.Tooltip("queries:Q", title="at this stage"),
             alt.Tooltip("reached:Q", title="at this stage or further")])
now = reached.mark_bar(color="#2171b5", height=alt.RelativeBandSize(0.55)).encode(x="queries:Q")
numbers = reached.mark_text(align="left", dx=6, fontSize=14).encode(x="reached:Q", text=alt.Text("queries:Q", format=","))
st.altair_chart((reached + now + numbers).properties(height=48 * len(funnel)), width="stretch")

if is_lead:
    st.subheader("Annotators")
    if people.empty:
        st.info("No annotators yet. Add some with `python -m curation_app users add NAME --role annotator`.")
    else:
        def share(label: str):  # noqa: ANN202 - a column of shares, blue (red would read as an alarm)
            return st.column_config.ProgressColumn(label, min_value=0, max_value=1, format="percent", color="blue",
                                                   width="small", help=f"{label}: share equal to the final label")

        st.dataframe(
            people[["annotator", "done_today", "done_total", "open_assignments", "median_time_s",
                    "decision_vs_final", "category_vs_final", "subcategory_vs_final", "difficulty_vs_final",
                    "decision_compared"]].rename(columns={"decision_compared": "items_final"}),
            hide_index=True, width="stretch", height="content",
            column_config={
                "annotator": st.column_config.TextColumn("Annotator"),
                "done_today": st.column_config.NumberColumn("Today", help="Submitted since midnight UTC",
                                                           width="small"),
                "done_total": st.column_config.NumberColumn("Total", help="Submitted annotations"),
                "open_assignments": st.column_config.NumberColumn("Waiting", help="Assigned or reserved, not submitted"),
                "median_time_s": st.column_config.NumberColumn("Median time", format="%.0f s",
                                                               help="Over timed annotations (imported ones are not timed)"),
                "decision_vs_final": share("Decision"),
                "category_vs_final": share("Category"),
                "subcategory_vs_final": share("Subcategory"),
                "difficulty_vs_final": share("Difficulty"),
                "items_final": st.column_config.NumberColumn(
                    "Final", help="Their submitted items that have a final label", width="small"),
            })
        st.caption("Decision, Category, Subcategory, Difficulty: the share of their labels equal to the final label, "
                   "on their items that are final (empty until some are); kappa and alpha are on *Agreement*.")
        left, right = st.columns(2)
        with left:
            st.markdown("**Submitted per day** (UTC, last 90 days)")
            if per_day.empty:
                st.info("Nothing submitted in the last 90 days.")
            else:
                # A time axis of at least two weeks up to today, so one busy day is one bar, not the whole chart.
                last = max(per_day["day"].max(), pd.Timestamp.now(tz="UTC").tz_localize(None).normalize())
                first = min(per_day["day"].min(), last - pd.Timedelta(days=13))
                n_days = (last - first).days + 1
                bars = alt.Chart(per_day).mark_bar(width=max(3, min(28, 560 // n_days))).encode(
                    x=alt.X("day:T", title=None, scale=alt.Scale(domain=[
                        (first - pd.Timedelta(hours=12)).isoformat(), (last + pd.Timedelta(hours=12)).isoformat()]),
                            axis=alt.Axis(format="%d %b", labelAngle=0, tickCount="day" if n_days <= 14 else "week")),
                    y=alt.Y("sum(submitted):Q", title="annotations submitted"),
                    color=alt.Color("annotator:N", title=None, scale=alt.Scale(scheme="tableau10"),
                                    legend=alt.Legend(orient="top", labelLimit=0, labelFontSize=13)),
                    tooltip=[alt.Tooltip("day:T", title="day", format="%d %b %Y"), "annotator", "submitted"])
                st.altair_chart(bars.properties(height=300), width="stretch")
        with right:
            st.markdown("**Time on task** (median, bar from the 1st to the 3rd quartile)")
            if timing.empty:
                st.info("No timed annotations yet: time on task is recorded when an item is labelled in the app, "
                        "not for imported labels.")
            else:
                base = alt.Chart(timing).encode(y=alt.Y("annotator:N", title=None,
                                                        axis=alt.Axis(labelFontSize=13, labelLimit=0)))
                spread = base.mark_rule(strokeWidth=6, color="#9ecae1").encode(
                    x=alt.X("p25_s:Q", title="seconds per item"), x2="p75_s:Q")
                middle = base.mark_point(filled=True, size=120, color="#08519c").encode(
                    x="median_s:Q", tooltip=["annotator", alt.Tooltip("timed:Q", title="timed items"),
                                             alt.Tooltip("p25_s:Q", format=".0f", title="1st quartile (s)"),
                                             alt.Tooltip("median_s:Q", format=".0f", title="median (s)"),
                                             alt.Tooltip("p75_s:Q", format=".0f", title="3rd quartile (s)")])
                labels = base.mark_text(align="left", dx=10, dy=-12, fontSize=12).encode(
                    x="median_s:Q", text=alt.Text("median_s:Q", format=".0f"))
                st.altair_chart((spread + middle + labels).properties(height=max(160, 48 * len(timing))),
                                width="stretch")

st.subheader("Sources")
if stats["sources"]:
    st.dataframe(pd.DataFrame(stats["sources"]), hide_index=True, width="stretch", height="content")
else:
    st.info("No queries yet. Import some with `python -m curation_app import FILE`.")

st.subheader("Import batches")
if stats["batches"]:
    st.dataframe(pd.DataFrame(stats["batches"]), hide_index=True, width="stretch", height="content")
