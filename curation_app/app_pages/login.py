import streamlit as st

from curation_app.app_pages.session import log_in
from curation_app.app_pages.widgets import md
from curation_app.core import accounts
from curation_app.core.errors import CurationError
from curation_app.database import read_scope, session_scope


def sentence(message: str) -> str:
    """The message with its first letter raised; str.capitalize would lower the rest (a setting's name)."""
    return message[:1].upper() + message[1:]


st.title("Log in")
st.caption("Curate a code benchmark from real user queries.")
with read_scope() as session:
    first_run = not accounts.has_users(session)

if first_run:
    # Only a database without a single user offers this; after that, admins add users.
    st.info("This database has no users yet. Create the first admin here, or at the command line with "
            f"`{accounts.FIRST_ADMIN_COMMAND}` (the password is asked for).", icon=":material/person_add:")
    with st.form("first_admin"):
        name = st.text_input("Admin user name", key="first_admin_name")
        password = st.text_input("Password", type="password", key="first_admin_password")
        again = st.text_input("Password again", type="password", key="first_admin_again")
        created = st.form_submit_button("Create the first admin and log in", type="primary")
    if created:
        if password != again:
            st.error("The two passwords differ.")
        else:
            try:
                with session_scope() as session:
                    accounts.create_first_admin(session, name=name.strip(), password=password)
            except CurationError as error:
                st.error(md(sentence(str(error))))
            else:
                problem = log_in(name, password)
                if problem:
                    st.error(sentence(problem))
                else:
                    st.rerun()
    st.stop()

with st.form("login", clear_on_submit=False):
    name = st.text_input("User name", key="login_name")
    password = st.text_input("Password", type="password", key="login_password")
    submitted = st.form_submit_button("Log in", type="primary")
if submitted:
    problem = log_in(name, password)
    if problem:
        st.error(sentence(problem))
    else:
        st.rerun()
