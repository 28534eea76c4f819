"""Releases: preview a selection, freeze it, compare releases, download their files."""

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import release
from curation_app.core.errors import CurationError
from curation_app.core.overview import batch_ids
from curation_app.core.project import load_project
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

user = require(current_user(), Role.LEAD, Role.ADMIN)
st.title("Releases")


def file_stamps(*folders: str) -> tuple:
    """Sizes and modification times of the release files: a cache key that changes with them."""
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for folder in folders
                 for f in sorted(Path(folder).iterdir()) if f.is_file())


# Checking and comparing read every data file: done once per state of the files, not on every rerun.
@st.cache_data(max_entries=16, ttl=300, show_spinner="Checking the files against the manifest...")
def verification(folder: str, recorded: dict | None, stamps: tuple) -> list[str]:
    return release.verify(folder, recorded=recorded)


@st.cache_data(max_entries=16, show_spinner="Comparing the releases...")
def comparison(path_a: str, path_b: str, stamps: tuple) -> dict:
    return release.diff(path_a, path_b)


with read_scope() as session:
    existing = release.list_releases(session)
    taxonomy = load_project(session).taxonomy
    batches = batch_ids(session)

build_tab, list_tab, diff_tab = st.tabs(["Build a release", "Frozen releases", "Compare"])

with build_tab:
    with st.form("spec"):
        columns = st.columns(4)
        name = columns[0].text_input("Name", value="benchmark")
        version = columns[1].text_input("Version", value="1.0")
        size = columns[2].number_input("Target size (0: every item in the pool)", min_value=0, value=0, step=10)
        seed = columns[3].number_input("Seed", min_value=0, value=0)
        st.caption("Difficulty mix, as shares of the target size (CodeArena: 23 / 44 / 33)")
        mix_columns = st.columns(len(taxonomy.difficulties))
        shares = {d: c.number_input(d, min_value=0.0, value=0.0, step=1.0, key=f"mix_{d}")
                  for c, d in zip(mix_columns, taxonomy.difficulties)}
        filters = st.columns(4)
        categories = filters[0].multiselect("Main categories", list(taxonomy.categories))
        languages = filters[1].multiselect("Languages", list(taxonomy.languages), accept_new_options=True)
        difficulties = filters[2].multiselect("Difficulties", list(taxonomy.difficulties))
        chosen_batches = filters[3].multiselect("Import batches", batches)
        previewed = st.form_submit_button("Preview", type="primary")
    mix = ",".join(f"{d}={v}" for d, v in shares.items()) if sum(shares.values()) > 0 else None
    spec = release.ReleaseSpec(size=int(size) or None, seed=int(seed), categories=tuple(categories),
                               languages=tuple(languages), difficulties=tuple(difficulties),
                               batch_ids=tuple(chosen_batches), mix=release.parse_mix(mix, taxonomy))
    if previewed:  # the preview is computed when asked for, not again on every rerun of the page
        with read_scope() as session:
            st.session_state["release_preview"] = (spec, release.preview(session, actor=user, spec=spec))
    shown_spec, result = st.session_state.get("release_preview", (None, None))
    if shown_spec == spec:
        report = result.report
        metrics = st.columns(4)
        metrics[0].metric("Items", report["selected"], help=f"of {report['pool']} final, kept items in the pool")
        metrics[1].metric("Subcategories", f"{report['subcategories_covered']} / {report['subcategories_in_taxonomy']}")
        metrics[2].metric("Languages", f"{report['languages_covered']} / {report['languages_in_pool']}")
        metrics[3].metric("Shortfall", report["shortfall"])
        for problem in report["problems"]:
            st.warning(md(problem))
        for dimension, counts in result.distributions.items():
            if not counts:
                continue
            frame = pd.DataFrame({"value": list(counts), "items": list(counts.values())})
            with st.expander(f"{dimension.replace('_', ' ')} ({len(counts)})", expanded=dimension == "difficulty"):
                chart, table = st.columns([3, 2])
                chart.altair_chart(alt.Chart(frame).mark_bar().encode(
                    x=alt.X("items:Q"), y=alt.Y("value:N", sort="-x", title=None), tooltip=["value", "items"]),
                    width="stretch")
                frame["share"] = (frame["items"] / frame["items"].sum()).map("{:.1%}".format)
                table.dataframe(frame.sort_values("items", ascending=False), hide_index=True, width="stretch")
        if result.scores:
            st.caption("Score fields on these items (null where no annotator gave one)")
            st.dataframe(pd.DataFrame(result.scores), hide_index=True, width="stretch")
        if result.agreement:
            st.caption("Agreement on these items' annotations")
            st.dataframe(pd.DataFrame(result.agreement).T.drop(columns=["alpha_ci95"], errors="ignore"),
                         width="stretch")
        if st.button(f"Freeze {md(name)} {md(version)}", type="primary", icon=":material/lock:"):
            try:
                with session_scope() as session:
                    created = release.create_release(session, actor=user, name=name.strip(),
                                                     version=version.strip(), spec=spec)
            except CurationError as error:
                st.error(md(error))
            else:
                # A fresh run: the frozen releases and the comparison list it at once.
                st.session_state["release_notice"] = (
                    f"Frozen: {created['items']} items in {release.shown_path(created['path'])} "
                    f"(data.jsonl sha256 {created['sha256'][:16]}…)")
                st.rerun()
    notice = st.session_state.pop("release_notice", None)
    if notice:
        st.success(md(notice))

with list_tab:
    if not existing:
        st.info("No release yet.")
    else:
        st.caption(f"Folders under the exports folder ({md(release.exports_dir().name)}/)")
        st.dataframe(pd.DataFrame([{**r, "path": release.shown_path(r["path"])} for r in existing]),
                     hide_index=True, width="stretch")
        labels = [f"{r['name']} {r['version']}" for r in existing]
        picked = st.selectbox("Release", range(len(existing)), format_func=lambda i: labels[i])
        folder = Path(existing[picked]["path"])
        with read_scope() as session:
            recorded = release.recorded_files(session, folder)
        problems = verification(str(folder), recorded, file_stamps(folder)) if folder.is_dir() else \
            release.verify(folder, recorded=recorded)
        if problems:
            st.error("Changed since it was frozen: " + md("; ".join(problems)))
        else:
            st.success("Every file matches its manifest.")
        for file_name in release.ALL_FILES:
            target = folder / file_name
            if target.is_file():
                # Read on click, and no rerun on click: a rerun would replace the file behind the
                # button, and a second quick click would ask for one that is gone.
                st.download_button(f"Download {file_name}", target.read_bytes, file_name=file_name,
                                   key=f"download:{picked}:{file_name}", on_click="ignore")

with diff_tab:
    if len(existing) < 2:
        st.info("Two releases are needed to compare.")
    else:
        labels = [f"{r['name']} {r['version']}" for r in existing]
        columns = st.columns(2)
        first = columns[0].selectbox("From", range(len(existing)), index=1, format_func=lambda i: labels[i])
        second = columns[1].selectbox("To", range(len(existing)), index=0, format_func=lambda i: labels[i])
        paths = [existing[first]["path"], existing[second]["path"]]
        try:
            changes = comparison(*paths, file_stamps(*(p for p in paths if Path(p).is_dir())))
        except CurationError as error:
            st.error(md(error))
        else:
            st.write(f"{len(changes['added'])} added, {len(changes['removed'])} removed, "
                     f"{len(changes['changed'])} changed, {changes['unchanged']} unchanged")
            st.dataframe(pd.DataFrame(
                [{"id": i, "change": "added", "fields": ""} for i in changes["added"]]
                + [{"id": i, "change": "removed", "fields": ""} for i in changes["removed"]]
                + [{"id": c["id"], "change": "changed", "fields": ", ".join(c["fields"])} for c in changes["changed"]]),
                hide_index=True, width="stretch")
