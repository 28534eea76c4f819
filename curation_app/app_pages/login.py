import streamlit as st

from curation_app.app_pages.session import log_in

st.title("Log in")
st.caption("Curate a code benchmark from real user queries.")
with st.form("login", clear_on_submit=False):
    name = st.text_input("User name", key="login_name")
    password = st.text_input("Password", type="password", key="login_password")
    submitted = st.form_submit_button("Log in", type="primary")
if submitted:
    problem = log_in(name, password)
    if problem:
        st.error(problem.capitalize())
    else:
        st.rerun()
