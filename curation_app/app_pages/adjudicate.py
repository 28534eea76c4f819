"""Leads turn disagreement into final labels: the rule, the conflict queue, side-by-side review."""

import functools
import hashlib

import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md, render_conversation, score_grid, score_input
from curation_app.core import adjudicate, configure, labels
from curation_app.core.errors import CurationError, ResolvedElsewhere
from curation_app.core.project import load_project
from curation_app.core.rendering import highlight
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.LEAD, Role.ADMIN)
state = st.session_state
st.title("Adjudicate")

with read_scope() as session:
    project = load_project(session)
    rule, taxonomy, score_fields = project.rule, project.taxonomy, project.score_fields

rule_column, apply_column = st.columns([5, 1], vertical_alignment="top")
with rule_column.expander(f"Acceptance rule: at least {rule.min_annotations} annotations; a field is final when all agree "
                 f"or at least {rule.keep_quorum} agree", expanded=False):
    with st.form("rule"):
        columns = st.columns(2)
        minimum = columns[0].number_input("Annotations an item needs", 1, 20, rule.min_annotations)
        quorum = columns[1].number_input("Annotators who must agree (majority)", 1, 20, rule.keep_quorum)
        decided = list(labels.decided_fields(score_fields))
        needing = st.multiselect("Fields that need that many (any other: all, or more than half, of the annotators "
                                 "who gave it a value)", decided,
                                 default=[f for f in decided if rule.needs_quorum(f)])
        if st.form_submit_button("Save rule"):
            try:
                with session_scope() as session:
                    configure.change_settings(session, actor=user, values={
                        "min_annotations": int(minimum), "keep_quorum": int(quorum),
                        "quorum_fields": "all" if set(needing) == set(decided) else list(needing)})
                st.rerun()
            except CurationError as error:
                st.error(md(error))
if apply_column.button("Apply the rule", type="primary", icon=":material/done_all:", key="apply_rule",
                       width="stretch"):
    with session_scope() as session:
        result = adjudicate.apply_rule(session, actor=user)
    st.success(f"{result['finalised']} finalised ({result['unanimous']} unanimous, {result['majority']} majority); "
               f"{result['to_adjudicate']} left for a lead.")

OPEN = "adjudicate"  # the query parameter naming the open item, so a reload or a link keeps it
NEXT_SHORTCUT = "Alt+N"
QUEUE_ROWS_BESIDE_ITEM = 5


def notify(kind: str, text: str) -> None:
    """A message for the next run, shown beside the form: actions run in callbacks, before the
    page is drawn, so everything the page shows is computed after them."""
    state["adjudicate_notice"] = (kind, text)


def open_item(public_id: str | None) -> None:
    if public_id:
        st.query_params[OPEN] = public_id
    else:
        st.query_params.pop(OPEN, None)


def open_selected(listed: list[str], table_key: str) -> None:
    rows = state[table_key].selection.rows
    if rows:
        open_item(listed[rows[0]])


def open_looked_up() -> None:
    open_item(state["adjudicate_lookup"].strip() or None)
    state["adjudicate_lookup"] = ""


queue_tab, feedback_tab = st.tabs(["Conflict queue", "Guideline feedback"])
with queue_tab:
    filters = st.columns(4)
    field_filter = filters[0].selectbox("Conflicting field", [None, *labels.decided_fields(score_fields)], format_func=lambda v: v or "any")
    category_filter = filters[1].selectbox("Category", [None, *taxonomy.categories], format_func=lambda v: v or "any")
    annotator_filter = filters[2].text_input("Annotator")
    with read_scope() as session:
        items = adjudicate.conflict_queue(session, actor=user, field=field_filter, category=category_filter,
                                          annotator=annotator_filter.strip() or None)
    queue_ids = [i.public_id for i in items]
    picked_id = st.query_params.get(OPEN)
    if items:
        table = pd.DataFrame([{"open": "▶" if i.public_id == picked_id else "", "query": i.public_id,
                               "agreement": i.agreement, "conflicts": i.conflict_text(),
                               "annotations": i.annotations, "category": i.category,
                               "annotators": ", ".join(i.annotators)} for i in items])
        st.caption(f"{len(items)} item(s): split decisions first (the closest split first), then the lowest "
                   f"agreement. Select one to resolve it; {NEXT_SHORTCUT} opens the next one.")
        # A new key whenever the queue changes: a row selected in an older queue never opens another item.
        table_key = "conflicts:" + hashlib.sha256("\n".join(queue_ids).encode()).hexdigest()[:12]
        # With an item open, the queue keeps to a few rows (it scrolls) so the item starts near the top.
        height = min(len(items), QUEUE_ROWS_BESIDE_ITEM) * 35 + 38 if picked_id else "auto"
        st.dataframe(table, hide_index=True, width="stretch", height=height, selection_mode="single-row",
                     on_select=functools.partial(open_selected, queue_ids, table_key), key=table_key,
                     column_config={"open": st.column_config.TextColumn("", width=40),
                                    "conflicts": st.column_config.TextColumn(width="large")})
    else:
        st.info("No conflicts: every complete item is settled by the rule or already final.")
    filters[3].text_input("Open any item by id", key="adjudicate_lookup", on_change=open_looked_up,
                          help="Also final ones, to review or reopen them", placeholder="demo-001")

with feedback_tab:
    with read_scope() as session:
        feedback = adjudicate.guideline_feedback(session, actor=user)
    st.subheader("Flagged: the guidelines need an update")
    if feedback["flagged"]:
        st.dataframe(pd.DataFrame(feedback["flagged"]), hide_index=True, width="stretch")
    else:
        st.write("No final label is flagged yet. Tick *Guidelines need an update* when you save one that the "
                 "guidelines should have settled.")
    columns = st.columns(2)
    columns[0].subheader("Adjudications by category")
    if feedback["adjudications_by_category"]:
        columns[0].dataframe(pd.DataFrame(feedback["adjudications_by_category"]), hide_index=True, width="stretch")
    else:
        columns[0].write("No item has been adjudicated by a lead yet.")
    columns[1].subheader("Error types")
    if feedback["error_types"]:
        columns[1].dataframe(pd.DataFrame(feedback["error_types"]), hide_index=True, width="stretch")
    else:
        columns[1].write("No final label names an error type yet.")

# Where the open item stood in the queue: after it is resolved, the next one is the one that took its place.
if picked_id in queue_ids:
    state["adjudicate_position"] = queue_ids.index(picked_id)
next_id = adjudicate.next_conflict(queue_ids, current=picked_id, position=state.get("adjudicate_position", 0))


def next_button(*, primary: bool) -> None:
    if next_id is None:
        st.caption("No other conflict is waiting." if picked_id else "")
        return
    st.button(f"Next conflict: {md(next_id)}", key="next_conflict", on_click=open_item, args=(next_id,),
              type="primary" if primary else "secondary", icon=":material/arrow_forward:",
              shortcut=NEXT_SHORTCUT, help=f"{NEXT_SHORTCUT} opens it from anywhere on the page")


if not picked_id:
    next_button(primary=True)
    st.stop()
try:
    with read_scope() as session:
        view = adjudicate.adjudication_view(session, actor=user, public_id=picked_id)
except CurationError as error:
    st.error(md(error))
    next_button(primary=True)
    st.stop()
if st.query_params.get(OPEN) != view.public_id:
    st.query_params[OPEN] = view.public_id

st.divider()
st.subheader(f"Item {md(view.public_id)}")
if view.final:
    deciders = {source.get("by") for source in (view.final["field_sources"] or {}).values()
                if isinstance(source, dict) and source.get("source") == "adjudicated" and source.get("by")}
    st.info(f"Final ({view.final['source']}), revision {view.final_revision}"
            + (f", by {md(', '.join(sorted(deciders)))}" if deciders else "")
            + (f": {md(view.final['rationale'])}" if view.final.get("rationale") else "")
            + ". Saving again replaces it; the old decision stays in the audit log.")
left, right = st.columns([1, 1], gap="large")
with left:
    st.caption("The query as annotators saw it")
    with st.container(border=True):  # no fixed height: it opens at its first line
        render_conversation(view.messages)

names = [a["annotator"] for a in view.annotations]
with right:
    st.caption("Annotations side by side: fields in conflict first, the values that disagree marked")
    rows = {}
    marked: set[tuple[str, str]] = set()
    for row in view.side_by_side():
        rows[row["field"]] = {**row["values"], "status": row["status"]}
        marked.update((row["field"], who) for who in row["disagreeing"])
    rows["time on task"] = {a["annotator"]: (f"{a['time_on_task_s']:.0f}s" if a["time_on_task_s"] else "not measured")
                            + (" (fast!)" if a["annotator"] in view.fast else "") for a in view.annotations}
    rows["time on task"]["status"] = ""
    side_by_side = pd.DataFrame(rows).T

    def mark(row: pd.Series) -> list[str]:
        conflict = row.get("status") == "conflict"
        return [("background-color: rgba(255, 80, 80, .35); font-weight: 600" if (row.name, column) in marked
                 else "background-color: rgba(255, 80, 80, .10)" if conflict else "") for column in row.index]

    # A static table: every value in full, wrapped (a data grid cuts long labels at its column width).
    st.table(side_by_side.style.apply(mark, axis=1))
    if view.fast:
        st.warning(f"Suspiciously fast: {md(', '.join(view.fast))}")
    if view.review:
        votes = view.review
        st.info(f"Reviewers: **{votes['keep']} keep, {votes['reject']} reject** ({votes['quorum']} of "
                f"{votes['votes']} needed). " + " · ".join(
                    f"{md(v['reviewer'])}: {v['vote']}" + (f" ({md(v['comment'])})" if v["comment"] else "")
                    for v in votes["reviewers"]))

for text_field, title in (("rewritten_prompt", "Rewritten prompts"), ("reference_answer", "Reference answers")):
    versions = view.text_versions(text_field)
    if not versions:
        continue
    with st.expander(f"{title} side by side" + (", with a diff" if text_field == "reference_answer" else ""),
                     expanded=text_field == "rewritten_prompt"):
        for column, (name, text) in zip(st.columns(len(versions)), versions):
            column.caption(md(name))
            column.html(highlight(text, "markdown"))
        for name_a, name_b, diff in view.reference_diffs if text_field == "reference_answer" else ():
            st.caption(f"{md(name_a)} → {md(name_b)}")
            st.html(highlight(diff or "(identical)", "diff"))


def proposed(name: str):  # noqa: ANN201 - a value of the field's own type
    return view.proposal.get(name)


def index_of(options: list, value) -> int:  # noqa: ANN001
    return options.index(value) if value in options else 0


def none_label(value) -> str:  # noqa: ANN001
    return "(none)" if value is None else str(value)


# The revision this lead started from (the form's key) and the revision a save must replace:
# when another lead saves first, the save is refused, the form keeps what was typed, and the
# lead's next save replaces the decision they have now been shown.
opened_key, seen_key = f"adjudicate-opened:{view.public_id}", f"adjudicate-seen:{view.public_id}"
for stale in [k for k in state if str(k).startswith(("adjudicate-seen:", "adjudicate-opened:"))
              and k not in (opened_key, seen_key)]:
    del state[stale]  # another item was open: coming back starts from what is saved then
opened_revision = state.setdefault(opened_key, view.final_revision)
key = f"adjudicate:{view.public_id}:{opened_revision}"
# "proposed" is the saved final label's text, else the keepers' most common one (as the rule keeps).
REFERENCE_STARTS = {"proposed": proposed("reference_answer") or "", **dict(view.text_versions("reference_answer")),
                    "baseline": view.baseline_answer or "", "empty": ""}
PROMPT_STARTS = {"proposed": proposed("rewritten_prompt") or "", **dict(view.text_versions("rewritten_prompt")),
                 "empty": ""}


def forget_form() -> None:
    state.pop(opened_key, None)
    state.pop(seen_key, None)


def typed_fields() -> dict:
    """The form's values as the lead left them (read in the save callback, before the page is drawn)."""
    pair = state[f"{key}:category"]
    start_from, prompt_from = state[f"{key}:start"], state[f"{key}:prompt_start"]
    # A start chosen just before saving has no text area yet: its starting text is what is saved.
    return {"decision": state[f"{key}:decision"], "reject_reason": state[f"{key}:reject_reason"],
            "difficulty": state[f"{key}:difficulty"], "category": pair[0] if pair else None,
            "subcategory": pair[1] if pair else None, "languages": state[f"{key}:languages"],
            "reference_answer": state.get(f"{key}:reference:{start_from}", REFERENCE_STARTS[start_from]),
            "rewritten_prompt": state.get(f"{key}:rewritten:{prompt_from}", PROMPT_STARTS[prompt_from]),
            "scores": {score.name: state[f"{key}:score:{score.name}"] for score in view.score_fields}}


def save_final() -> None:
    public_id = view.public_id
    try:
        with session_scope() as session:
            adjudicate.resolve(session, actor=user, public_id=public_id, fields=typed_fields(),
                               rationale=state[f"{key}:rationale"], confidence=state[f"{key}:confidence"],
                               error_type=state[f"{key}:error_type"], guidelines_need_update=state[f"{key}:flag"],
                               expected_revision=state.get(seen_key, opened_revision))
    except ResolvedElsewhere as error:
        with read_scope() as session:
            state[seen_key] = adjudicate.adjudication_view(session, actor=user, public_id=public_id).final_revision
        notify("error", f"{error}. Their decision is shown above; your form is as you left it, and saving it "
                        "now replaces theirs.")
    except CurationError as error:
        notify("error", str(error))
    else:
        forget_form()
        notify("success", f"Final label of {public_id} saved.")


def reopen_final() -> None:
    try:
        with session_scope() as session:
            adjudicate.reopen(session, actor=user, public_id=view.public_id, reason=state[f"{key}:reason"])
    except CurationError as error:
        notify("error", str(error))
    else:
        forget_form()
        notify("success", f"{view.public_id} is open again.")


def send_back() -> None:
    try:
        with session_scope() as session:
            sent = adjudicate.send_back(session, actor=user, public_id=view.public_id,
                                        annotators=state[f"{key}:to_whom"] or None, reason=state[f"{key}:reason"])
    except CurationError as error:
        notify("error", str(error))
    else:
        forget_form()
        notify("success", f"Sent back to {', '.join(sent)}.")


with st.form(key):
    st.caption("Final label: fields that agree are filled in; any value of the taxonomy may be chosen.")
    columns = st.columns(3)
    decisions = [None, *taxonomy.decisions]
    columns[0].selectbox("Decision", decisions, index=index_of(decisions, proposed("decision")),
                         format_func=none_label, key=f"{key}:decision")
    reasons = [None, *taxonomy.reject_reasons]
    columns[1].selectbox("Reject reason", reasons, index=index_of(reasons, proposed("reject_reason")),
                         format_func=none_label, key=f"{key}:reject_reason")
    levels = [None, *taxonomy.difficulties]
    columns[2].selectbox("Difficulty", levels, index=index_of(levels, proposed("difficulty")),
                         format_func=none_label, key=f"{key}:difficulty")
    pairs = [None, *((main, sub) for main, subs in taxonomy.categories.items() for sub in subs)]
    st.selectbox("Category / subcategory", pairs, index=index_of(pairs, (proposed("category"), proposed("subcategory"))),
                 format_func=lambda v: "(none)" if v is None else f"{v[0]} / {v[1]}", key=f"{key}:category")
    languages_now = proposed("languages") or []
    st.multiselect("Programming languages", list(dict.fromkeys([*taxonomy.languages, *languages_now])),
                   default=languages_now, accept_new_options=True, key=f"{key}:languages")
    for column, score in score_grid(view.score_fields):
        outcome = view.outcomes.get(score.name)
        votes = ", ".join(f"{value} ×{count}" for value, count in outcome.votes.items()) if outcome else ""
        score_input(
            column, score, value=proposed(score.name), key=f"{key}:score:{score.name}",
            help=f"Annotators gave: {votes}" if votes else "No annotator gave one")
    start_from = st.radio("Start the reference answer from", list(REFERENCE_STARTS), horizontal=True,
                          key=f"{key}:start")
    st.text_area("Final reference answer (choose, merge or rewrite)", value=REFERENCE_STARTS[start_from],
                 height=220, key=f"{key}:reference:{start_from}")
    prompt_from = st.radio("Start the rewritten prompt from", list(PROMPT_STARTS), horizontal=True,
                           key=f"{key}:prompt_start")
    st.text_area("Final rewritten prompt (empty: the user's own words are released)",
                 value=PROMPT_STARTS[prompt_from], height=100, key=f"{key}:rewritten:{prompt_from}")
    columns = st.columns(3)
    columns[0].selectbox("Confidence", adjudicate.CONFIDENCES, index=2, key=f"{key}:confidence")
    columns[1].selectbox("Error type", [None, *adjudicate.ERROR_TYPES], format_func=none_label,
                         key=f"{key}:error_type")
    columns[2].checkbox("Guidelines need an update", key=f"{key}:flag")
    st.text_area("Rationale", key=f"{key}:rationale", height=80)
    st.form_submit_button("Save final label", type="primary", on_click=save_final,
                          help="Ctrl+Enter in a text field saves too")

kind, text = state.pop("adjudicate_notice", (None, None))
if kind == "success":
    st.success(md(text))
elif kind == "error":
    st.error(md(text))
next_button(primary=kind == "success")

with st.expander("Reopen or send back"):
    st.text_input("Reason", key=f"{key}:reason")
    st.multiselect("Send back to (empty: everyone who annotated it)", names, key=f"{key}:to_whom")
    buttons = st.columns(2)
    buttons[0].button("Reopen the final label", disabled=view.final is None, key=f"{key}:reopen", on_click=reopen_final)
    buttons[1].button("Send back to annotators", key=f"{key}:send_back", on_click=send_back)
