"""The app's own password hasher, at full cost: the rest of the suite hashes at the lowest cost."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

SCRIPT = """
import json
from curation_app.core import auth
hashed = auth.hash_password("correct horse battery")
print(json.dumps({"hash": hashed, "needs_rehash": auth._hasher.check_needs_rehash(hashed),
                  "verifies": auth._hasher.verify(hashed, "correct horse battery")}))
"""


def test_the_app_hashes_passwords_with_argon2id_at_full_cost():
    output = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True, timeout=60).stdout
    result = json.loads(output)
    # RFC 9106's second recommended option, argon2-cffi's default: 64 MiB, 3 passes, 4 lanes.
    assert result["hash"].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert result == {**result, "needs_rehash": False, "verifies": True}


def test_a_cheap_hash_from_elsewhere_is_upgraded_at_the_next_login(sqlite_db):
    """A hash made at another cost (here: the suite's) is replaced by a full-cost one on login."""
    from curation_app import database
    from curation_app.core import auth

    engine = database.get_engine(sqlite_db)
    with database.session_scope(engine) as session:
        auth.create_user(session, actor=auth.command_line_actor(), name="ann", role="annotator",
                         password="password1")
    script = ("import sys; from curation_app import database; from curation_app.core import auth\n"
              "with database.session_scope() as s:\n"
              "    auth.authenticate(s, name='ann', password='password1')\n"
              "    print(auth.get_user(s, 'ann').password_hash)\n")
    output = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True, timeout=60).stdout
    assert output.strip().startswith("$argon2id$v=19$m=65536,t=3,p=4$")
