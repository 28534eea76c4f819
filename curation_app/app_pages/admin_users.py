"""Admins add users, change roles, reset passwords, deactivate and reactivate accounts, and clear
login blocks."""

import pandas as pd
import streamlit as st

from curation_app.app_pages.admin_common import flash, forget_widgets, show_flash
from curation_app.app_pages.session import current_user, require
from curation_app.app_pages.widgets import md
from curation_app.core import accounts, auth
from curation_app.core.errors import CurationError
from curation_app.database import read_scope, session_scope
from curation_app.models import Role

ROLES = [role.value for role in Role]

user = require(current_user(), Role.ADMIN)
st.title("Users")
show_flash()


def act(change, done: str, *, widgets: str) -> None:  # noqa: ANN001 - a function of one session
    try:
        with session_scope() as session:
            change(session)
    except CurationError as error:
        st.error(md(error))
    else:
        flash("success", done)
        forget_widgets(widgets)
        st.rerun()


with read_scope() as session:
    users = auth.list_users(session)
st.dataframe(pd.DataFrame([{"name": u.name, "role": u.role, "active": u.active,
                            "can log in": u.active and u.password_hash is not None,
                            "created": u.created_at.strftime("%Y-%m-%d %H:%M")} for u in users]),
             hide_index=True, width="stretch")

add, change = st.columns(2, gap="large")
with add:
    st.subheader("Add a user")
    with st.form("users:add"):
        name = st.text_input("User name", key="users:add:name")
        role = st.selectbox("Role", ROLES, key="users:add:role")
        password = st.text_input("Password", type="password", key="users:add:password",
                                 help=f"At least {auth.MIN_PASSWORD_LENGTH} characters.")
        again = st.text_input("Password again", type="password", key="users:add:again")
        if st.form_submit_button("Add user", type="primary"):
            if password != again:
                st.error("The two passwords differ.")
            else:
                act(lambda s: auth.create_user(s, actor=user, name=name.strip(), role=role, password=password),
                    f"{name.strip()} ({role}) added; they can log in now.", widgets="users:add:")

with change:
    st.subheader("Change a user")
    names = [u.name for u in users]
    if not names:
        st.info("No users yet.")
        st.stop()
    chosen_name = st.selectbox("User", names, key="users:chosen")
    chosen = next(u for u in users if u.name == chosen_name)
    st.caption(f"{md(chosen.name)} is {'active' if chosen.active else 'deactivated'}, role {chosen.role}"
               + ("" if chosen.password_hash else ", no password yet (cannot log in)") + ".")
    with st.form("users:role"):
        new_role = st.selectbox("Role", ROLES, index=list(ROLES).index(chosen.role), key=f"users:role:{chosen.name}")
        if st.form_submit_button("Change role"):
            act(lambda s: auth.set_role(s, actor=user, name=chosen.name, role=new_role),
                f"{chosen.name} is now {new_role}.", widgets="users:role:")
    with st.form("users:password"):
        new_password = st.text_input("New password", type="password", key=f"users:password:{chosen.name}")
        if st.form_submit_button("Reset password"):
            act(lambda s: auth.set_password(s, actor=user, name=chosen.name, password=new_password),
                f"The password of {chosen.name} was changed; tell them the new one.", widgets="users:password:")
    if chosen.active:
        st.caption("Deactivating ends their login sessions at once and gives the items they held back to the "
                   "pool; what they submitted stays.")
        if st.button("Deactivate", key="users:deactivate", icon=":material/person_off:"):
            act(lambda s: accounts.set_active(s, actor=user, name=chosen.name, active=False),
                f"{chosen.name} is deactivated and can no longer log in; their work stays.", widgets="users:x")
    elif st.button("Reactivate", key="users:reactivate", icon=":material/person_check:"):
        act(lambda s: accounts.set_active(s, actor=user, name=chosen.name, active=True),
            f"{chosen.name} can log in again.", widgets="users:x")

st.subheader("Login blocks")
with read_scope() as session:
    blocks = auth.login_blocks(session, actor=user)
window = int(auth.FAILED_LOGIN_WINDOW.total_seconds() // 60)
st.caption(f"{auth.MAX_FAILED_LOGINS} failed logins for one name, or {auth.MAX_FAILED_LOGINS_PER_CLIENT} from one "
           f"client across any names, within {window} minutes refuse every further login for that name or client "
           "until the failures leave the window or the block is cleared here. Clearing keeps the failed logins "
           "in the audit log.")
if not blocks:
    st.info("No name or client is blocked now.", icon=":material/lock_open:")
else:
    st.dataframe(pd.DataFrame([{"blocked": block.kind, "name or client": block.key,
                                "failed logins": block.unsuccessful,
                                "blocked until": block.until.strftime("%Y-%m-%d %H:%M:%S UTC")} for block in blocks]),
                 hide_index=True, width="stretch")
    by_label = {f"{block.kind}: {block.key}": block for block in blocks}
    chosen_block = by_label[st.selectbox("Blocked name or client", list(by_label), key="users:block")]
    if st.button("Clear login block", key="users:unblock", icon=":material/lock_open:"):
        act(lambda s: auth.clear_login_block(s, actor=user, **{chosen_block.kind: chosen_block.key}),
            f"The login block of {chosen_block.describe()} is cleared; its failed logins stay in the audit log.",
            widgets="users:block")
