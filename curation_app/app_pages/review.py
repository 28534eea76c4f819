"""A reviewer's screen: the next annotated item with its proposed labels, the rewritten prompt and
the reference answer; vote keep or reject (Alt+K, Alt+X) with an optional comment and reason."""

import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md, render_conversation, render_markdown_preview
from curation_app.core import review
from curation_app.core.errors import CurationError
from curation_app.core.project import load_project
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.REVIEWER)
state = st.session_state


def key(public_id: str, name: str) -> str:
    return f"review:{user.id}:{public_id}:{name}"


def vote(public_id: str, choice: str) -> None:
    reason = state.get(key(public_id, "reason"))
    try:
        with session_scope() as session:
            outcome = review.cast_vote(session, actor=user, public_id=public_id, vote=choice,
                                       comment=state.get(key(public_id, "comment")),
                                       corrections={"reject_reason": reason} if choice == "reject" and reason else None)
    except CurationError as error:
        state["review:flash"] = ("error", str(error))
        return
    state["review:flash"] = ("success", f"Voted {choice} on {public_id}"
                             + ("." if outcome == review.Verdict.WAITING else f": the item is {outcome}."))
    st.query_params.pop("item", None)  # on to the next


with read_scope() as session:
    project = load_project(session)
    waiting = review.review_queue(session, actor=user, limit=1000)
    item = None
    wanted = st.query_params.get("item") or (waiting[0] if waiting else None)
    if wanted:
        try:
            item = review.review_item(session, actor=user, public_id=wanted)
        except CurationError as error:
            st.query_params.pop("item", None)
            st.error(md(error))

title, progress = st.columns([3, 2], vertical_alignment="bottom")
title.title("Review")
progress.markdown(f"**{len(waiting)}{'+' if len(waiting) >= 1000 else ''}** item(s) waiting for your vote",
                  text_alignment="right")
notices = st.container()
if "review:flash" in state:
    kind, message = state.pop("review:flash")
    (notices.success if kind == "success" else notices.error)(md(message))
if not project.review_votes:
    st.info("This project has no review stage (setting review_votes is 0).")
    st.stop()
if item is None:
    st.info("Nothing waiting for your vote. Items come here once the annotation stage has settled their labels.")
    st.stop()
if st.query_params.get("item") != item.public_id:
    st.query_params["item"] = item.public_id

proposed = item.proposed
st.markdown(f"**{md(item.public_id)}** · {project.review_votes} reviewers vote; {project.review_quorum} keep votes keep it")
left, right = st.columns([5, 3], gap="medium")
with left:
    with st.container(border=True):
        render_conversation(item.messages)
with right:
    st.caption("Proposed labels (the annotation stage's)")
    st.markdown("\n".join([
        f"- **Category:** {md(proposed['subcategory'] or '')} · {md(proposed['category'] or '')}",
        f"- **Languages:** {md(', '.join(proposed['languages'] or []) or 'none')}",
        f"- **Difficulty:** {md(proposed['difficulty'] or '')}",
    ]))
    if item.own_vote:
        st.info(f"Your vote so far: **{item.own_vote['vote']}**; you can change it until the item is decided.")
    state.setdefault(key(item.public_id, "comment"), (item.own_vote or {}).get("comment") or "")
    st.text_area("Comment (optional)", key=key(item.public_id, "comment"), height=90)
    st.selectbox("Reject reason (optional, with a reject vote)", project.taxonomy.reject_reasons, index=None,
                 key=key(item.public_id, "reason"), placeholder="Why reject?")
    keep, reject = st.columns(2)
    keep.button("Keep", type="primary", shortcut="Alt+K", width="stretch", key=key(item.public_id, "keep"),
                on_click=vote, args=(item.public_id, "keep"))
    reject.button("Reject", shortcut="Alt+X", width="stretch", key=key(item.public_id, "reject"),
                  on_click=vote, args=(item.public_id, "reject"))
    st.caption("Other reviewers' votes stay hidden until the item is decided.")

st.caption("Rewritten prompt")
with st.container(border=True):
    render_markdown_preview(proposed.get("rewritten_prompt") or "*No rewrite: the user's query is the prompt.*")
st.caption("Reference answer")
with st.container(border=True):
    render_markdown_preview(proposed.get("reference_answer") or "*No reference answer.*")
