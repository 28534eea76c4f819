"""Streamlit entry point: `python -m curation_app serve` runs `streamlit run` on this file."""

import sys
from pathlib import Path

# `streamlit run` puts this file's folder, not the repository, on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from curation_app.app_pages.navigation import PAGE_FILES, pages_for  # noqa: E402
from curation_app.app_pages.session import current_user, ensure_database, log_out, sync_cookie  # noqa: E402
from curation_app.app_pages.widgets import md  # noqa: E402

# A file served by the app itself: a ":material/..." icon makes every browser fetch its picture
# from a public font server on each page load.
FAVICON = str(Path(__file__).resolve().parent / "favicon.png")
st.set_page_config(page_title="Curation", page_icon=FAVICON, layout="wide")
ensure_database()
user = current_user()
sync_cookie()

if user is None:
    page = st.navigation([st.Page(PAGE_FILES["login"], title="Log in", icon=":material/login:")])
else:
    page = st.navigation([st.Page(path, title=title, icon=icon, default=index == 0)
                          for index, (path, title, icon) in enumerate(pages_for(user.role))])
    with st.sidebar:
        st.caption(f"Logged in as **{md(user.name)}** ({user.role})")
        if st.button("Log out", icon=":material/logout:"):
            log_out()
            st.rerun()
page.run()
