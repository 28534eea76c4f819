"""The annotator's workspace: one query at a time, keyboard first, drafts saved as you go."""

import time

import streamlit as st

from curation_app.app_pages.session import current_user, require, switch_to
from curation_app.app_pages.widgets import (focus_keys, keep_typed_text, md, render_conversation, render_markdown_preview,
                                            score_grid, score_input, score_number, suggestion_model, widget_class)
from curation_app.core import annotate, labels, queue, suggest
from curation_app.core.errors import CurationError, EditedElsewhere
from curation_app.core.guidelines import guideline_text
from curation_app.core.labels import FIELDS, KEEP, LABEL_FIELDS, REJECT
from curation_app.core.project import load_project
from curation_app.database import database_url, read_scope, session_scope
from curation_app.models import AnnotationState, Role

SHORTCUTS = {
    "keep": "Alt+K", "reject": "Alt+X", "easy": "Alt+1", "medium": "Alt+2", "hard": "Alt+3",
    "baseline": "Alt+B", "save": "Alt+S", "skip": "Alt+N", "submit": "Ctrl+Enter",
    "category": "Alt+C", "languages": "Alt+L", "previous": "Alt+P",
}

user = require(current_user(), Role.ANNOTATOR)
state = st.session_state


def field_key(public_id: str, name: str) -> str:
    return f"annotate:{user.id}:{public_id}:{name}"


def flash(kind: str, message: str) -> None:
    state["annotate:flash"] = (kind, message)


def forget_item(public_id: str, *, leave: bool = True) -> None:
    prefix = field_key(public_id, "")
    for name in [k for k in state.keys() if isinstance(k, str) and k.startswith(prefix)]:
        del state[name]
    if leave:
        st.query_params.pop("item", None)


def current_values(public_id: str) -> dict:
    """The fields this browser session knows; a field whose widget state was dropped is left out
    (and keeps its saved value) rather than sent as empty."""
    return {name: state[field_key(public_id, name)] for name in FIELDS if field_key(public_id, name) in state}


def elapsed(public_id: str) -> float:
    """Seconds since the item was opened or last saved; restarts the clock."""
    now = time.monotonic()
    started = state.get(field_key(public_id, "clock"), now)
    state[field_key(public_id, "clock")] = now
    return now - started


def save(public_id: str, *, submit: bool, suggested_labels: dict | None = None):  # noqa: ANN201 - Annotation | None
    try:
        with session_scope() as session:
            saved = annotate.save(session, actor=user, public_id=public_id, fields=current_values(public_id),
                                  submit=submit, elapsed_s=elapsed(public_id),
                                  expected_revision=state.get(field_key(public_id, "revision")),
                                  suggested_languages=state.get(field_key(public_id, "suggested")),
                                  suggested_labels=suggested_labels)
            state[field_key(public_id, "revision")] = saved.revision
        show_stored(public_id, saved)
    except EditedElsewhere as error:
        flash("error", str(error))
        forget_item(public_id, leave=False)  # show what the other tab saved
        return None
    except CurationError as error:
        flash("error", str(error))
        return None
    return saved


def show_stored(public_id: str, saved) -> None:  # noqa: ANN001 - an Annotation
    """The form shows what core stored: the labels as it cleaned them (a subcategory's main
    category, the vocabulary's spelling) and every field it emptied (what a rejected item never
    carries). Typed text is otherwise left as the browser has it."""
    for name in FIELDS:
        key, value = field_key(public_id, name), getattr(saved, name)
        if name in LABEL_FIELDS or (value is None and state.get(key) is not None):
            state[key] = value
    pair = (saved.category, saved.subcategory)
    state[field_key(public_id, "category_pair")] = pair if all(pair) else None
    prefix = field_key(public_id, "score:")
    for key in [k for k in state.keys() if isinstance(k, str) and k.startswith(prefix)]:
        if (saved.scores or {}).get(key[len(prefix):]) is None:
            state[key] = None


def autosave(public_id: str) -> None:
    if state.get(field_key(public_id, "state")) != AnnotationState.SUBMITTED:
        if save(public_id, submit=False):
            state[field_key(public_id, "saved_at")] = time.strftime("%H:%M:%S")


def set_value(public_id: str, name: str, value: str) -> None:
    state[field_key(public_id, name)] = value
    autosave(public_id)  # core clears what the decision rules out; show_stored shows it


def category_chosen(public_id: str) -> None:
    """One choice sets both: the subcategory and the main category it belongs to."""
    pair = state.get(field_key(public_id, "category_pair"))
    state[field_key(public_id, "category")], state[field_key(public_id, "subcategory")] = pair or (None, None)
    autosave(public_id)


def category_label(pair: tuple[str, str]) -> str:
    return f"{pair[1]} · {pair[0]}"


def score_changed(public_id: str, name: str) -> None:
    scores = dict(state.get(field_key(public_id, "scores")) or {})
    scores[name] = state.get(field_key(public_id, f"score:{name}"))
    state[field_key(public_id, "scores")] = scores
    autosave(public_id)


def use_baseline(public_id: str, baseline: str) -> None:
    state[field_key(public_id, "reference_answer")] = baseline
    autosave(public_id)


def open_suggestions(public_id: str, model, messages: list[dict]) -> None:  # noqa: ANN001 - a SuggestionModel
    """The annotator chose to see the model's suggestions: compute them (only now, not on every
    rerun), show them and record it."""
    suggestions = model.suggest([suggest.query_text(messages)])[0]
    state[field_key(public_id, "suggestions")] = suggestions
    if state.get(field_key(public_id, "state")) != AnnotationState.SUBMITTED:
        save(public_id, submit=False, suggested_labels=suggestions)


def submit(public_id: str) -> None:
    was_edit = state.get(field_key(public_id, "state")) == AnnotationState.SUBMITTED
    saved = save(public_id, submit=True)
    if saved is not None:
        warnings = labels.submission_warnings({name: getattr(saved, name) for name in FIELDS})
        done = f"{'Saved changes to' if was_edit else 'Submitted'} {public_id}."
        flash("warning" if warnings else "success", " ".join([done, *warnings]))
        forget_item(public_id)
        if was_edit:  # an edit started from My work goes back there
            state["annotate:back_to_my_work"] = True


def go_to(public_id: str) -> None:
    st.query_params["item"] = public_id


def skip(public_id: str, query_id: int) -> None:
    try:
        with session_scope() as session:
            queue.skip(session, actor=user, query_id=query_id)
    except CurationError as error:
        flash("error", str(error))
        return
    flash("info", f"Skipped {public_id}; it goes back to the pool.")
    forget_item(public_id)


if state.pop("annotate:back_to_my_work", False):
    switch_to("my_work")

# Which item: the one in the URL (a reload, or an edit from My work), else the next in the queue.
with session_scope() as session:
    status = queue.queue_status(session, annotator=user)
    previous = annotate.last_submitted(session, actor=user)
    project = load_project(session)
    taxonomy, score_fields, guideline_version = project.taxonomy, project.score_fields, project.guideline_version
    view = None
    if st.query_params.get("item"):
        try:
            view = annotate.start_item(session, actor=user, public_id=st.query_params["item"])
        except CurationError as error:
            st.query_params.pop("item", None)
            st.error(md(error))
    if view is None:
        reservation = queue.next_item(session, actor=user)
        if reservation is not None:
            view = annotate.start_item(session, actor=user, public_id=reservation.public_id)

title, progress = st.columns([3, 2])
title.title("Annotate")
metrics = progress.columns(3)
metrics[0].metric("Done today", status["done_today"])
metrics[1].metric("Left in queue", f"{status['left']}{'+' if status['more_than'] else ''}")
metrics[2].metric("Done in total", status["done_total"])

if "annotate:flash" in state:
    kind, message = state.pop("annotate:flash")
    {"success": st.success, "error": st.error, "info": st.info, "warning": st.warning}[kind](md(message))

if view is None:
    st.info("Nothing waiting for you: every query assigned to you or open in the pool is done. "
            "Ask a lead to assign more.")
    st.stop()

public_id = view.public_id
if public_id != st.query_params.get("item"):
    st.query_params["item"] = public_id
# Streamlit drops the state of widgets it did not draw (another page, a field hidden for now): such
# a field is filled in again from the database, which has every change already.
for name in FIELDS:
    if field_key(public_id, name) not in state:
        state[field_key(public_id, name)] = view.annotation.get(name)
if field_key(public_id, "loaded") not in state:  # first look at this item in this browser session
    state[field_key(public_id, "suggested")] = view.suggested_languages
    state[field_key(public_id, "state")] = view.state
    state[field_key(public_id, "revision")] = view.revision if view.state else 0
    state[field_key(public_id, "clock")] = time.monotonic()
    state[field_key(public_id, "loaded")] = True
if state.get(field_key(public_id, "languages")) is None:
    state[field_key(public_id, "languages")] = []  # the multiselect needs a list

read_only = view.finalised
editing_submitted = view.state == AnnotationState.SUBMITTED
header = f"**{md(public_id)}** · source {md(view.source)} · {len(view.messages)} message(s)"
if editing_submitted:
    header += " · editing your submitted annotation"
st.markdown(header)
if read_only:
    st.warning("A lead has finalised this item, so it can no longer be changed.")
flags = view.triage_flags or {}
if flags.get("possible_duplicate_of"):
    st.info(f"Possible duplicate of {md(flags['possible_duplicate_of'])} (found by triage; decide for yourself).")
if flags.get("secrets"):
    kinds = sorted({hit["kind"].replace("_", " ") for hit in flags["secrets"]})
    st.warning(f"May contain secrets or personal data: {md(', '.join(kinds))}. Reject it for that reason, "
               "or keep it and leave it for a lead to redact before release.")
if flags.get("contamination"):
    st.warning("Overlaps a public benchmark: " + md(", ".join(
        f"{hit['benchmark']} {hit['item']}" for hit in flags["contamination"][:3])))
with st.expander("Keyboard shortcuts"):
    st.markdown(" · ".join(f"`{keys}` {action}" for action, keys in SHORTCUTS.items()))

left, right = st.columns(2, gap="large")  # wide enough for "Medium  Alt + 2"
with left:
    # No fixed height: a scrolling box would open at its end (Streamlit keeps such boxes scrolled to
    # the bottom), and the first lines of a query are often the question.
    with st.container(border=True):
        render_conversation(view.messages)
    if view.baseline_answer:
        with st.expander(f"Baseline answer ({md(view.baseline_model or 'unknown model')})"):
            render_markdown_preview(view.baseline_answer)

with right:
    decision = state.get(field_key(public_id, "decision"))
    st.caption("Decision")
    buttons = st.columns(2)
    for column, value, label in ((buttons[0], KEEP, "Keep"), (buttons[1], REJECT, "Reject")):
        column.button(label, key=field_key(public_id, f"btn_{value}"), shortcut=SHORTCUTS[value],
                      type="primary" if decision == value else "secondary", width="stretch",
                      on_click=set_value, args=(public_id, "decision", value), disabled=read_only)
    if decision == REJECT:
        st.selectbox("Reject reason", taxonomy.reject_reasons, index=None, placeholder="Why reject?",
                     key=field_key(public_id, "reject_reason"), on_change=autosave, args=(public_id,),
                     disabled=read_only)
    # Every subcategory with its main category in one type-ahead list: typing part of either name
    # finds it (Alt+C opens it), and one choice sets both.
    pairs = [(main, sub) for main, subs in taxonomy.categories.items() for sub in subs]
    pair_key = field_key(public_id, "category_pair")
    saved_pair = (state.get(field_key(public_id, "category")), state.get(field_key(public_id, "subcategory")))
    if pair_key not in state:
        state[pair_key] = saved_pair if saved_pair in pairs else None
    st.selectbox(f"Category and subcategory `{SHORTCUTS['category']}`", pairs, index=None,
                 format_func=category_label, placeholder="Type part of a subcategory or main category",
                 key=pair_key, on_change=category_chosen, args=(public_id,), disabled=read_only)
    if saved_pair[0] and saved_pair not in pairs:  # e.g. imported with a main category only
        st.caption(f"Saved: {md(saved_pair[0])}{' · ' + md(saved_pair[1]) if saved_pair[1] else ''}")
    chosen = state.get(field_key(public_id, "languages")) or []
    saved_languages = view.annotation.get("languages") or []
    # The saved languages are also the widget's default: a browser that misses the one-shot value
    # from session state (a rerun racing the first draw) then shows, and sends back, what is saved.
    # The project's vocabulary only (an admin adds to it); a saved name from before stays visible.
    st.multiselect(f"Programming languages `{SHORTCUTS['languages']}`", list(dict.fromkeys([*taxonomy.languages, *saved_languages, *chosen])),
                   default=saved_languages, key=field_key(public_id, "languages"),
                   placeholder="Pick languages (type to filter)", on_change=autosave, args=(public_id,),
                   disabled=read_only)
    st.caption("Suggested: " + ", ".join(
        f"{md(s['language'])} ({s['confidence']:.0%}, {s['evidence']})" for s in view.suggested_languages[:4]))
    shown_suggestions = state.get(field_key(public_id, "suggestions")) or (
        view.suggested_labels if view.suggestions_opened else None)
    if shown_suggestions:
        st.caption("Model suggestions (top 3): " + " · ".join(
            f"{target}: " + ", ".join(f"{md(label)} {p:.0%}" for label, p in choices)
            for target, choices in shown_suggestions.items()))
    else:
        with read_scope() as session:
            version = suggest.training_version(session)
        model = suggestion_model((database_url(), *version))  # outside the session: it may open its own
        if model is None:
            st.caption(f"Model suggestions appear once {suggest.MIN_TRAINING_ITEMS} items are final.")
        else:
            # Hidden until asked for, so they do not anchor the annotator's own judgement.
            st.button("Show model suggestions", key=field_key(public_id, "btn_suggestions"), type="tertiary",
                      icon=":material/lightbulb:", on_click=open_suggestions,
                      args=(public_id, model, view.messages), disabled=read_only)
    difficulty = state.get(field_key(public_id, "difficulty"))
    st.caption("Difficulty")
    levels = st.columns(len(taxonomy.difficulties))
    for column, level in zip(levels, taxonomy.difficulties):
        column.button(level.capitalize(), key=field_key(public_id, f"btn_{level}"),
                      shortcut=SHORTCUTS.get(level), type="primary" if difficulty == level else "secondary",
                      width="stretch", on_click=set_value, args=(public_id, "difficulty", level),
                      disabled=read_only)
    saved_scores = state.get(field_key(public_id, "scores")) or {}
    for column, score in score_grid(score_fields):  # the project's own numeric fields
        key = field_key(public_id, f"score:{score.name}")
        if key not in state:
            state[key] = score_number(score, saved_scores.get(score.name))
        score_input(column, score, value=None, key=key,
                    help=score.help or f"{score.level} scale, {score.minimum:g} to {score.maximum:g}",
                    on_change=score_changed, args=(public_id, score.name), disabled=read_only)

    # Submit and the state of the text fields below stay in view on a 1440x900 screen.
    def size(name: str) -> str:
        text = state.get(field_key(public_id, name)) or ""
        return f"{len(text):,} characters" if text else "empty"

    st.caption(f"Rewritten prompt: {size('rewritten_prompt')} · Reference answer: {size('reference_answer')} · "
               f"Notes: {size('notes')}")
    st.button("Save changes" if editing_submitted else "Submit and next", type="primary",
              key=field_key(public_id, "btn_submit"), shortcut=SHORTCUTS["submit"], on_click=submit,
              args=(public_id,), disabled=read_only, width="stretch")
    more = st.columns(3)
    if not editing_submitted:
        more[0].button("Save", key=field_key(public_id, "btn_save"), shortcut=SHORTCUTS["save"],
                       on_click=autosave, args=(public_id,), disabled=read_only, width="stretch")
        more[1].button("Skip", key=field_key(public_id, "btn_skip"), shortcut=SHORTCUTS["skip"], on_click=skip,
                       args=(public_id, view.query_id), disabled=read_only, width="stretch")
    if previous and previous != public_id:
        more[2].button("Back", key=field_key(public_id, "btn_previous"), shortcut=SHORTCUTS["previous"],
                       on_click=go_to, args=(previous,), width="stretch",
                       help=f"Back to {previous}, the item you submitted last")
    with st.popover(f"Guidelines ({guideline_version})", icon=":material/menu_book:"):
        st.markdown(guideline_text(guideline_version))

st.text_area("Rewritten prompt (optional: a clean benchmark prompt with the user's intent)",
             key=field_key(public_id, "rewritten_prompt"), height=120, on_change=autosave, args=(public_id,),
             disabled=read_only)
write, preview = st.columns(2, gap="medium")  # the answer beside its rendering, as it is written
with write:
    st.text_area("Reference answer (markdown, code in fenced blocks)", key=field_key(public_id, "reference_answer"),
                 height=220, on_change=autosave, args=(public_id,), disabled=read_only)
    if view.baseline_answer:
        st.button("Start from the baseline answer", key=field_key(public_id, "btn_baseline"),
                  shortcut=SHORTCUTS["baseline"], on_click=use_baseline, args=(public_id, view.baseline_answer),
                  disabled=read_only)
with preview:
    st.caption("Preview")
    with st.container(border=True):
        render_markdown_preview(state.get(field_key(public_id, "reference_answer")) or "*Nothing written yet.*")
st.text_area("Notes", key=field_key(public_id, "notes"), height=80, on_change=autosave, args=(public_id,),
             disabled=read_only)

if not read_only:
    focus_keys({SHORTCUTS["category"]: widget_class(pair_key), SHORTCUTS["languages"]: widget_class(
        field_key(public_id, "languages"))})
    keep_typed_text(key_prefix=field_key(public_id, "").rstrip(":"), user_key_prefix=f"annotate:{user.id}:",
                    item=public_id, revision=state.get(field_key(public_id, "revision")) or 0,
                    fields=["rewritten_prompt", "reference_answer", "notes"])
saved_at = state.get(field_key(public_id, "saved_at"))
st.caption(f"Draft saved at {saved_at}" if saved_at else "Drafts are saved whenever a field changes.")
