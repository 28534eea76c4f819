"""Admins set the project's settings: the queue, the acceptance rule, the review stage, the
guideline version and the rest, with a warning before saving when they contradict each other."""

import json

import streamlit as st

from curation_app.app_pages.admin_common import forget_widgets, save_settings, show_flash, show_warnings
from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import configure, settings
from curation_app.core.errors import CurationError
from curation_app.core.guidelines import available_versions
from curation_app.database import read_scope
from curation_app.models import Role

user = require(current_user(), Role.ADMIN)
PREFIX = "settings:field:"
# Whole numbers, edited as numbers; the rest is written as `settings set KEY VALUE` takes it.
NUMBERS = {
    "Queue": ("overlap", "reservation_minutes"),
    "Acceptance rule": ("min_annotations", "keep_quorum"),
    "Review stage": ("review_votes", "review_quorum"),
}
TEXTS = ("quorum_fields", "extra_languages", "license", "dataset_languages", "ngram", "duplicate_threshold",
         "coding_threshold")
LIMITS = {"reservation_minutes": (1, 24 * 60), "review_votes": (0, 20)}

st.title("Project settings")
show_flash()
# What the settings say together, and the save button, stay at the top: filled once every field is read.
verdict = st.container(border=True)
with read_scope() as session:
    stored = settings.all_settings(session)
    stored_warnings = configure.warnings_for(session)


def as_text(key: str, value: object) -> str:
    """A stored value written the way `settings set` reads it."""
    if value is None or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(value)
    return str(value)


changes: dict = {}
problems: list[str] = []
for (group, keys), column in zip(NUMBERS.items(), st.columns(len(NUMBERS), gap="large")):
    with column:
        st.subheader(group)
        for key in keys:
            low, high = LIMITS.get(key, (1, 20))
            value = st.number_input(key, min_value=low, max_value=high, value=stored[key], step=1,
                                    key=PREFIX + key, help=settings.SETTINGS[key].help)
            if value != stored[key]:
                changes[key] = int(value)

st.subheader("Annotation")
left, right = st.columns(2, gap="large")
with left:
    versions = available_versions()
    if stored["guideline_version"] not in versions:
        versions.append(stored["guideline_version"])
    version = st.selectbox("guideline_version", versions, index=versions.index(stored["guideline_version"]),
                           key=PREFIX + "guideline_version", help=settings.SETTINGS["guideline_version"].help
                           + " (a file guidelines/VERSION.md)")
    if version != stored["guideline_version"]:
        changes["guideline_version"] = version
    required = st.toggle("require_reference_answer", value=stored["require_reference_answer"],
                         key=PREFIX + "require_reference_answer",
                         help=settings.SETTINGS["require_reference_answer"].help)
    if required != stored["require_reference_answer"]:
        changes["require_reference_answer"] = required
with right:
    for key in TEXTS:
        text = st.text_input(key, value=as_text(key, stored[key]), key=PREFIX + key, help=settings.SETTINGS[key].help)
        if text.strip() != as_text(key, stored[key]):
            try:
                changes[key] = settings.parse_setting(key, text)
            except CurationError as error:
                problems.append(str(error))

with verdict:
    st.markdown("**Now**")
    if stored_warnings:
        show_warnings(stored_warnings)
    else:
        st.success("The stored settings agree with each other.")
    if changes or problems:
        st.markdown("**If saved**")
        st.caption("Changes: " + md(", ".join(f"{key} {json.dumps(stored[key])} → {json.dumps(value)}"
                                               for key, value in changes.items()) or "none that can be saved"))
        if not problems:
            try:
                with read_scope() as session:
                    settings.validate_settings(session, changes)
                    proposed_warnings = configure.warnings_for(session, changes)
            except CurationError as error:
                problems.append(str(error))
        for problem in problems:
            st.error(md(problem), icon=":material/block:")
        if not problems:
            if proposed_warnings:
                show_warnings(proposed_warnings, prefix="If saved: ")
            else:
                st.success("These settings agree with each other.")
    save, undo = st.columns([1, 6])
    if save.button("Save settings", type="primary", disabled=not changes or bool(problems), key="settings:save"):
        save_settings(actor=user, changes=changes, widget_prefix=PREFIX)
    if undo.button("Undo changes", disabled=not (changes or problems), key="settings:undo"):
        forget_widgets(PREFIX)
        st.rerun()
