"""The annotator's workspace: one query at a time, keyboard first, drafts saved as you go."""

import time

import streamlit as st

from curation_app.app_pages.label_form import label_form, sent_action
from curation_app.app_pages.session import current_user, require, switch_to
from curation_app.app_pages.widgets import (keep_typed_text, md, render_conversation, render_markdown_preview, score_grid,
                                            score_input, score_number, suggestion_model,
                                            warm_up_highlighting)
from curation_app.core import annotate, labels, queue, suggest
from curation_app.core.errors import CurationError, EditedElsewhere
from curation_app.core.guidelines import guideline_text
from curation_app.core.labels import FIELDS, LABEL_FIELDS
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
    prefix = field_key(public_id, "score:")
    for key in [k for k in state.keys() if isinstance(k, str) and k.startswith(prefix)]:
        if (saved.scores or {}).get(key[len(prefix):]) is None:
            state[key] = None


def autosave(public_id: str) -> None:
    # A text area that commits after its item was submitted (or left) saves nothing.
    if field_key(public_id, "loaded") in state and state.get(field_key(public_id, "state")) != AnnotationState.SUBMITTED:
        if save(public_id, submit=False):
            state[field_key(public_id, "saved_at")] = time.strftime("%H:%M:%S")


def on_form_action() -> None:
    """The label form sent its labels with an action: take them, do it, and tell the form."""
    try:
        action = sent_action()
    except CurationError as error:
        flash("error", str(error))
        return
    if action is None:
        return
    state.pop("annotate:flash", None)
    if field_key(action.item, "loaded") not in state:  # e.g. a tab left open on an item since submitted
        flash("error", f"{action.item} is no longer open here; your labels for it were not saved. Open it again "
                       "from My work to change it.")
    else:
        for name, value in action.fields.items():
            state[field_key(action.item, name)] = value
        if action.kind == "save":
            autosave(action.item)
        elif action.kind == "submit":
            submit(action.item)
        elif action.kind == "skip":
            skip(action.item, state[field_key(action.item, "query_id")])
        elif action.kind == "baseline":
            use_baseline(action.item)
        elif action.kind == "back" and action.to:
            autosave(action.item)
            go_to(action.to)
    failed = state.get("annotate:flash", ("",))[0] == "error"
    state["annotate:ack"] = {"ack": action.seq, "ack_ok": not failed,
                             "ack_error": state["annotate:flash"][1] if failed else None}


def score_changed(public_id: str, name: str) -> None:
    scores = dict(state.get(field_key(public_id, "scores")) or {})
    scores[name] = state.get(field_key(public_id, f"score:{name}"))
    state[field_key(public_id, "scores")] = scores
    autosave(public_id)


def use_baseline(public_id: str) -> None:
    with read_scope() as session:
        baseline = annotate.baseline_answer(session, actor=user, public_id=public_id)
    if baseline:
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

title, progress = st.columns([3, 2], vertical_alignment="bottom")
title.title("Annotate")
# One line of text rather than three metric widgets: it is drawn again for every item.
progress.markdown(f"**{status['done_today']}** done today · **{status['left']}{'+' if status['more_than'] else ''}** "
                  f"left in queue · **{status['done_total']}** done in total", text_alignment="right")

# Messages that come and go sit in containers drawn on every run, so the elements after them keep
# their places: Streamlit redraws (and the label form loses its keys for a moment) what moves.
notices = st.container()
if "annotate:flash" in state:
    kind, message = state.pop("annotate:flash")
    {"success": notices.success, "error": notices.error, "info": notices.info, "warning": notices.warning}[kind](md(message))

if view is None:
    if status["done_total"]:
        st.info(f"You have finished everything assigned to you ({status['done_total']} submitted), and nothing "
                "else is open in the pool. Ask a lead to assign more.")
    else:
        st.info("Nothing has been assigned to you yet, and nothing is open in the pool. Ask a lead to assign "
                "queries to you or open them to every annotator.")
    st.stop()

warm_up_highlighting(tuple(taxonomy.languages))
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
    state[field_key(public_id, "query_id")] = view.query_id
    # The form takes the saved labels again whenever this changes (here: each time they are loaded).
    state["annotate:form_version"] = state.get("annotate:form_version", 0) + 1
    state[field_key(public_id, "form_version")] = state["annotate:form_version"]
    state[field_key(public_id, "loaded")] = True

read_only = view.finalised
editing_submitted = view.state == AnnotationState.SUBMITTED
header = f"**{md(public_id)}** · source {md(view.source)} · {len(view.messages)} message(s)"
if editing_submitted:
    header += " · editing your submitted annotation"
st.markdown(header)
item_notices = st.container()
if read_only:
    item_notices.warning("A lead has finalised this item, so it can no longer be changed.")
flags = view.triage_flags or {}
if flags.get("possible_duplicate_of"):
    item_notices.info(f"Possible duplicate of {md(flags['possible_duplicate_of'])} (found by triage; decide for yourself).")
if flags.get("secrets"):
    kinds = sorted({hit["kind"].replace("_", " ") for hit in flags["secrets"]})
    item_notices.warning(f"May contain secrets or personal data: {md(', '.join(kinds))}. Reject it for that reason, "
                         "or keep it and leave it for a lead to redact before release.")
if flags.get("contamination"):
    item_notices.warning("Overlaps a public benchmark: " + md(", ".join(
        f"{hit['benchmark']} {hit['item']}" for hit in flags["contamination"][:3])))

left, right = st.columns([5, 3], gap="medium")  # most of the width for the query and its code
with left:
    # No fixed height: a scrolling box would open at its end (Streamlit keeps such boxes scrolled to
    # the bottom), and the first lines of a query are often the question.
    with st.container(border=True):
        render_conversation(view.messages)
    for number, baseline in enumerate(view.baselines):  # one per model; the button and Alt+B take the first
        starts_here = f", the one {SHORTCUTS['baseline']} starts from" if number == 0 and len(view.baselines) > 1 else ""
        with st.expander(f"Baseline answer ({md(baseline['model'])}{starts_here})"):
            render_markdown_preview(baseline["answer"])

with right:
    saved_languages = state.get(field_key(public_id, "languages")) or []
    label_form(on_action=on_form_action, data={
        "item": public_id, "user": user.id, "version": state[field_key(public_id, "form_version")],
        "revision": state.get(field_key(public_id, "revision")) or 0,
        "fields": {**{name: state.get(field_key(public_id, name)) for name in LABEL_FIELDS}, "languages": saved_languages},
        "reasons": list(taxonomy.reject_reasons), "difficulties": list(taxonomy.difficulties),
        "categories": [[main, sub] for main, subs in taxonomy.categories.items() for sub in subs],
        # The project's vocabulary only (an admin adds to it); a saved name from before stays shown.
        "languages": list(dict.fromkeys([*taxonomy.languages, *saved_languages])),
        "suggested": ", ".join(f"{s['language']} ({s['confidence']:.0%}, {s['evidence']})"
                               for s in view.suggested_languages[:4]),
        "read_only": read_only, "editing": editing_submitted, "baseline": bool(view.baseline_answer),
        "previous": previous if previous and previous != public_id else None,
        "saved_at": state.get(field_key(public_id, "saved_at")), "keys": SHORTCUTS,
        **state.get("annotate:ack", {"ack": None, "ack_ok": True, "ack_error": None}),
    })
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
    saved_scores = state.get(field_key(public_id, "scores")) or {}
    for column, score in score_grid(score_fields):  # the project's own numeric fields
        key = field_key(public_id, f"score:{score.name}")
        if key not in state:
            state[key] = score_number(score, saved_scores.get(score.name))
        score_input(column, score, value=None, key=key,
                    help=score.help or f"{score.level} scale, {score.minimum:g} to {score.maximum:g}",
                    on_change=score_changed, args=(public_id, score.name), disabled=read_only)

    def size(name: str) -> str:
        text = state.get(field_key(public_id, name)) or ""
        return f"{len(text):,} characters" if text else "empty"

    st.caption(f"Rewritten prompt: {size('rewritten_prompt')} · Reference answer: {size('reference_answer')} · "
               f"Notes: {size('notes')}")
    # In a dialog drawn only while it is open: the whole text on every rerun cost each item time.
    st.button(f"Guidelines ({guideline_version})", icon=":material/menu_book:", key="annotate:btn_guidelines",
              on_click=lambda: state.update({"annotate:guidelines": True}))
if state.get("annotate:guidelines"):
    st.dialog(f"Annotation guidelines ({guideline_version})", width="large",
              on_dismiss=lambda: state.pop("annotate:guidelines", None))(
        lambda: st.markdown(guideline_text(guideline_version)))()

st.text_area("Rewritten prompt (optional: a clean benchmark prompt with the user's intent)",
             key=field_key(public_id, "rewritten_prompt"), height=120, on_change=autosave, args=(public_id,),
             disabled=read_only)
write, preview = st.columns(2, gap="medium")  # the answer beside its rendering, as it is written
with write:
    st.text_area("Reference answer (markdown, code in fenced blocks)", key=field_key(public_id, "reference_answer"),
                 height=220, on_change=autosave, args=(public_id,), disabled=read_only)
    if view.baseline_answer:
        st.button(f"Start from the baseline answer{f' ({md(view.baseline_model)})' if len(view.baselines) > 1 else ''} "
                  f"`{SHORTCUTS['baseline']}`", key=field_key(public_id, "btn_baseline"),
                  on_click=use_baseline, args=(public_id,), disabled=read_only)
with preview:
    st.caption("Preview")
    with st.container(border=True):
        render_markdown_preview(state.get(field_key(public_id, "reference_answer")) or "*Nothing written yet.*")
st.text_area("Notes", key=field_key(public_id, "notes"), height=80, on_change=autosave, args=(public_id,),
             disabled=read_only)

if not read_only:
    keep_typed_text(key_prefix=field_key(public_id, "").rstrip(":"), user_key_prefix=f"annotate:{user.id}:",
                    item=public_id, revision=state.get(field_key(public_id, "revision")) or 0,
                    fields=["rewritten_prompt", "reference_answer", "notes"])
