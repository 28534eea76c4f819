"""Leads turn disagreement into final labels: the rule, the conflict queue, side-by-side review."""

import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md, render_conversation, score_grid, score_input
from curation_app.core import adjudicate, configure, labels
from curation_app.core.errors import CurationError, ResolvedElsewhere
from curation_app.core.project import load_project
from curation_app.core.rendering import highlight
from curation_app.core.rule import show_value
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.LEAD, Role.ADMIN)
state = st.session_state
st.title("Adjudicate")

with read_scope() as session:
    project = load_project(session)
    rule, taxonomy, score_fields = project.rule, project.taxonomy, project.score_fields

with st.expander(f"Acceptance rule: at least {rule.min_annotations} annotations; a field is final when all agree "
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
if st.button("Apply the rule now", type="primary", icon=":material/done_all:", key="apply_rule"):
    with session_scope() as session:
        result = adjudicate.apply_rule(session, actor=user)
    st.success(f"{result['finalised']} finalised ({result['unanimous']} unanimous, {result['majority']} majority); "
               f"{result['to_adjudicate']} left for a lead.")

queue_tab, feedback_tab = st.tabs(["Conflict queue", "Guideline feedback"])
with queue_tab:
    filters = st.columns(3)
    field_filter = filters[0].selectbox("Conflicting field", [None, *labels.decided_fields(score_fields)], format_func=lambda v: v or "any")
    category_filter = filters[1].selectbox("Category", [None, *taxonomy.categories], format_func=lambda v: v or "any")
    annotator_filter = filters[2].text_input("Annotator")
    with read_scope() as session:
        items = adjudicate.conflict_queue(session, actor=user, field=field_filter, category=category_filter,
                                          annotator=annotator_filter.strip() or None)
    picked_id = st.query_params.get("adjudicate")
    if items:
        table = pd.DataFrame([{"query": i.public_id, "agreement": i.agreement, "conflicts": i.conflict_text(),
                               "annotations": i.annotations, "category": i.category,
                               "annotators": ", ".join(i.annotators)} for i in items])
        st.caption(f"{len(items)} item(s): split decisions first (the closest split first), then the lowest "
                   "agreement. Select one to resolve it.")
        picked = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun",
                              selection_mode="single-row", key="conflicts")
        if picked.selection.rows:
            picked_id = items[picked.selection.rows[0]].public_id
    else:
        st.info("No conflicts: every complete item is settled by the rule or already final.")
    lookup = st.text_input("Or open any item by id (also final ones, to review or reopen)")
    picked_id = lookup.strip() or picked_id

with feedback_tab:
    with read_scope() as session:
        feedback = adjudicate.guideline_feedback(session, actor=user)
    st.subheader("Flagged: the guidelines need an update")
    st.dataframe(pd.DataFrame(feedback["flagged"]), hide_index=True, width="stretch")
    columns = st.columns(2)
    columns[0].subheader("Adjudications by category")
    columns[0].dataframe(pd.DataFrame(feedback["adjudications_by_category"]), hide_index=True, width="stretch")
    columns[1].subheader("Error types")
    columns[1].dataframe(pd.DataFrame(feedback["error_types"]), hide_index=True, width="stretch")

if not picked_id:
    st.stop()
try:
    with read_scope() as session:
        view = adjudicate.adjudication_view(session, actor=user, public_id=picked_id)
except CurationError as error:
    st.error(md(error))
    st.stop()
if st.query_params.get("adjudicate") != view.public_id:
    st.query_params["adjudicate"] = view.public_id

st.divider()
st.subheader(f"Item {md(view.public_id)}")
if view.final:
    st.info(f"Final ({view.final['source']}), revision {view.final_revision}. Saving again replaces it; "
            "the old decision stays in the audit log.")
left, right = st.columns([1, 1], gap="large")
with left:
    st.caption("The query as annotators saw it")
    with st.container(height=420, border=True):
        render_conversation(view.messages)

names = [a["annotator"] for a in view.annotations]
with right:
    st.caption("Annotations side by side (fields in conflict first)")
    rows = {}
    flat = [labels.flat_values(a, view.score_fields) for a in view.annotations]
    order = sorted(labels.decided_fields(view.score_fields), key=lambda f: view.outcomes.get(f).status != "conflict" if view.outcomes.get(f) else True)
    for name in order:
        outcome = view.outcomes.get(name)
        cells = {a["annotator"]: show_value(a[name]) if a[name] not in (None, []) else "" for a in flat}
        rows[name] = {**cells, "status": outcome.status if outcome else ""}
    rows["time on task"] = {a["annotator"]: (f"{a['time_on_task_s']:.0f}s" if a["time_on_task_s"] else "not measured")
                            + (" (fast!)" if a["annotator"] in view.fast else "") for a in view.annotations}
    rows["time on task"]["status"] = ""
    side_by_side = pd.DataFrame(rows).T

    def highlight_conflicts(row: pd.Series) -> list[str]:
        return ["background-color: rgba(255, 80, 80, .18)" if row.get("status") == "conflict" else ""] * len(row)

    st.dataframe(side_by_side.style.apply(highlight_conflicts, axis=1), width="stretch")
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


# The revision this lead started from, kept until they save: if another lead saves first, this
# lead's save is refused with a conflict message instead of quietly starting a fresh form.
seen_key = f"adjudicate-seen:{view.public_id}"
for stale in [k for k in st.session_state if str(k).startswith("adjudicate-seen:") and k != seen_key]:
    del st.session_state[stale]  # another item was open: coming back starts from what is saved then
seen_revision = st.session_state.setdefault(seen_key, view.final_revision)
key = f"adjudicate:{view.public_id}:{seen_revision}"
with st.form(key):
    st.caption("Final label: fields that agree are filled in; any value of the taxonomy may be chosen.")
    columns = st.columns(3)
    decisions = [None, *taxonomy.decisions]
    decision = columns[0].selectbox("Decision", decisions, index=index_of(decisions, proposed("decision")),
                                    format_func=none_label, key=f"{key}:decision")
    reasons = [None, *taxonomy.reject_reasons]
    reject_reason = columns[1].selectbox("Reject reason", reasons, index=index_of(reasons, proposed("reject_reason")),
                                         format_func=none_label, key=f"{key}:reject_reason")
    levels = [None, *taxonomy.difficulties]
    difficulty = columns[2].selectbox("Difficulty", levels, index=index_of(levels, proposed("difficulty")),
                                      format_func=none_label, key=f"{key}:difficulty")
    pairs = [None, *((main, sub) for main, subs in taxonomy.categories.items() for sub in subs)]
    pair = st.selectbox("Category / subcategory", pairs,
                        index=index_of(pairs, (proposed("category"), proposed("subcategory"))),
                        format_func=lambda v: "(none)" if v is None else f"{v[0]} / {v[1]}", key=f"{key}:category")
    languages_now = proposed("languages") or []
    languages = st.multiselect("Programming languages", list(dict.fromkeys([*taxonomy.languages, *languages_now])),
                               default=languages_now, accept_new_options=True, key=f"{key}:languages")
    scores = {}
    for column, score in score_grid(view.score_fields):
        outcome = view.outcomes.get(score.name)
        votes = ", ".join(f"{value} ×{count}" for value, count in outcome.votes.items()) if outcome else ""
        scores[score.name] = score_input(
            column, score, value=proposed(score.name), key=f"{key}:score:{score.name}",
            help=f"Annotators gave: {votes}" if votes else "No annotator gave one")
    # "proposed" is the saved final label's text, else the keepers' most common one (as the rule keeps).
    answers = dict(view.text_versions("reference_answer"))
    start_from = st.radio("Start the reference answer from", ["proposed", *answers, "baseline", "empty"],
                          horizontal=True, key=f"{key}:start")
    starting_text = {"proposed": proposed("reference_answer") or "",
                     "baseline": view.baseline_answer or "", "empty": "", **answers}[start_from]
    reference = st.text_area("Final reference answer (choose, merge or rewrite)", value=starting_text or "",
                             height=220, key=f"{key}:reference:{start_from}")
    prompts = dict(view.text_versions("rewritten_prompt"))
    prompt_from = st.radio("Start the rewritten prompt from", ["proposed", *prompts, "empty"], horizontal=True,
                           key=f"{key}:prompt_start")
    rewritten = st.text_area("Final rewritten prompt (empty: the user's own words are released)",
                             value={"proposed": proposed("rewritten_prompt") or "", "empty": "", **prompts}[prompt_from],
                             height=100, key=f"{key}:rewritten:{prompt_from}")
    columns = st.columns(3)
    confidence = columns[0].selectbox("Confidence", adjudicate.CONFIDENCES, index=2, key=f"{key}:confidence")
    error_type = columns[1].selectbox("Error type", [None, *adjudicate.ERROR_TYPES], format_func=none_label,
                                      key=f"{key}:error_type")
    flag = columns[2].checkbox("Guidelines need an update", key=f"{key}:flag")
    rationale = st.text_area("Rationale", key=f"{key}:rationale", height=80)
    save = st.form_submit_button("Save final label", type="primary")
if save:
    fields = {"decision": decision, "reject_reason": reject_reason, "difficulty": difficulty,
              "category": pair[0] if pair else None, "subcategory": pair[1] if pair else None,
              "languages": languages, "reference_answer": reference, "rewritten_prompt": rewritten,
              "scores": scores}
    try:
        with session_scope() as session:
            adjudicate.resolve(session, actor=user, public_id=view.public_id, fields=fields, rationale=rationale,
                               confidence=confidence, error_type=error_type, guidelines_need_update=flag,
                               expected_revision=seen_revision)
    except ResolvedElsewhere as error:
        st.session_state.pop(seen_key, None)  # the next look shows what the other lead saved
        st.error(md(error))
    except CurationError as error:
        st.error(md(error))
    else:
        st.session_state.pop(seen_key, None)
        st.success(f"Final label of {md(view.public_id)} saved.")

with st.expander("Reopen or send back"):
    reason = st.text_input("Reason", key=f"{key}:reason")
    to_whom = st.multiselect("Send back to (empty: everyone who annotated it)", names, key=f"{key}:to_whom")
    buttons = st.columns(2)
    if buttons[0].button("Reopen the final label", disabled=view.final is None, key=f"{key}:reopen"):
        try:
            with session_scope() as session:
                adjudicate.reopen(session, actor=user, public_id=view.public_id, reason=reason)
            st.session_state.pop(seen_key, None)
            st.success(f"{md(view.public_id)} is open again.")
        except CurationError as error:
            st.error(md(error))
    if buttons[1].button("Send back to annotators", key=f"{key}:send_back"):
        try:
            with session_scope() as session:
                sent = adjudicate.send_back(session, actor=user, public_id=view.public_id,
                                            annotators=to_whom or None, reason=reason)
            st.session_state.pop(seen_key, None)
            st.success(f"Sent back to {md(', '.join(sent))}.")
        except CurationError as error:
            st.error(md(error))
