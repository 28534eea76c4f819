"""Admins replace the taxonomy and the score fields: upload a JSON file or edit the JSON here,
checked exactly as `settings set taxonomy FILE` and `settings set score_fields FILE` check them."""

import json

import pandas as pd
import streamlit as st

from curation_app.app_pages.admin_common import flash, forget_widgets, show_flash
from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import configure, settings
from curation_app.core.errors import CurationError
from curation_app.core.project import load_project
from curation_app.core.taxonomy import DEFAULT_TAXONOMY_PATH
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.ADMIN)
st.title("Taxonomy and scores")
st.caption("What an annotation holds. Changing it while annotations exist leaves their labels as they were: "
           "values outside the new taxonomy then show up in agreement and adjudication.")
show_flash()
with read_scope() as session:
    stored = settings.all_settings(session)
    project = load_project(session)


def save(key: str, value: object, done: str) -> None:
    try:
        with session_scope() as session:
            configure.change_setting(session, actor=user, key=key, value=value)
    except CurationError as error:
        st.error(md(error))
    else:
        flash("success", done)
        forget_widgets(f"{key}:")
        st.rerun()


def document_editor(key: str, current: object, example: str) -> object | None:
    """An uploaded file or the edited text, parsed and checked; None (with the reasons shown) when
    it cannot be saved or nothing was given."""
    upload_tab, edit_tab = st.tabs(["Upload a JSON file", "Edit the JSON"])
    with upload_tab:
        uploaded = st.file_uploader(f"{key} JSON file", type=["json"], key=f"{key}:upload")
    with edit_tab:
        text = st.text_area(f"{key} JSON", value=json.dumps(current, indent=2, ensure_ascii=False), height=320,
                            key=f"{key}:text", help=example)
    if uploaded is not None:
        content, source = uploaded.getvalue(), uploaded.name
    elif text.strip() != json.dumps(current, indent=2, ensure_ascii=False):
        content, source = text, "the edited text"
    else:
        return None
    try:
        value = settings.parse_document(key, content, source=source)
        with read_scope() as session:
            settings.validate_settings(session, {key: value})
    except CurationError as error:
        st.error(md(error), icon=":material/block:")
        return None
    st.info(f"{md(source)} is a valid {key.replace('_', ' ')}; save it to use it.")
    return value


st.header("Taxonomy")
taxonomy = project.taxonomy
st.markdown(f"**{md(taxonomy.name)}** version {md(taxonomy.version)}"
            f"{' (the default)' if stored['taxonomy'] is None else ''}: {len(taxonomy.categories)} main categories, "
            f"{sum(map(len, taxonomy.categories.values()))} subcategories, {len(taxonomy.languages)} languages, "
            f"difficulties {md(', '.join(taxonomy.difficulties))}")
with st.expander("Categories"):
    st.dataframe(pd.DataFrame([{"main category": main, "subcategory": sub}
                               for main, subs in taxonomy.categories.items() for sub in subs]),
                 hide_index=True, width="stretch")
current_taxonomy = stored["taxonomy"] or json.loads(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))
new_taxonomy = document_editor("taxonomy", current_taxonomy,
                               "An object with main_categories [{name, subcategories}], languages, difficulties, "
                               "and optionally name, version, decisions, reject_reasons.")
left, right = st.columns([1, 4])
if left.button("Save taxonomy", type="primary", disabled=new_taxonomy is None, key="taxonomy:save"):
    save("taxonomy", new_taxonomy, f"Taxonomy {new_taxonomy.get('name', 'custom')} saved.")
if right.button("Back to the default (CodeArena) taxonomy", disabled=stored["taxonomy"] is None,
                key="taxonomy:default"):
    save("taxonomy", None, "The default taxonomy is back.")

st.header("Score fields")
st.caption(md(settings.SETTINGS["score_fields"].help.capitalize()))
if project.score_fields:
    st.dataframe(pd.DataFrame([{"name": f.name, "label": f.label, "level": f.level, "min": f.minimum,
                                "max": f.maximum, "step": f.step, "required": f.required}
                               for f in project.score_fields]), hide_index=True)
else:
    st.caption("No score fields.")
new_scores = document_editor("score_fields", stored["score_fields"] or [],
                             'A list like [{"name": "quality", "level": "interval", "min": 1, "max": 5, "step": 1}].')
if st.button("Save score fields", type="primary", disabled=new_scores is None, key="score_fields:save"):
    save("score_fields", new_scores, f"{len(new_scores)} score field(s) saved.")
