"""Demo users and queries, so a newcomer can click through at once."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import func, select

from curation_app.core import auth, configure, queue
from curation_app.core.annotation_io import import_annotations
from curation_app.core.importer import import_file
from curation_app.core.triage.database import triage_beside_writers
from curation_app.database import session_scope
from curation_app.models import Query

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_QUERIES = DEMO_DIR / "queries.jsonl"
DEMO_ANNOTATIONS = DEMO_DIR / "annotations.jsonl"
# Documented in the README; demo databases are for trying the tool, never for real work.
DEMO_USERS = (
    ("admin", "admin", "admin-demo"),
    ("lead", "lead", "lead-demo"),
    ("alice", "annotator", "alice-demo"),
    ("bob", "annotator", "bob-demo"),
    ("carol", "annotator", "carol-demo"),
)

# demo-013 pastes AWS's documented example credentials, which triage rightly leaves alone (every
# tutorial has them). The demo shows a real-looking leak instead, built here from a fixed seed so
# that no key-shaped string sits in the repository.
_DOCUMENTED_KEY_ID, _DOCUMENTED_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
_SEED = hashlib.sha256(b"curation-app demo credentials").digest()
PLANTED_KEY_ID = "AKIA" + base64.b32encode(_SEED).decode()[:16]
PLANTED_SECRET = base64.b64encode(_SEED + _SEED[:-2]).decode()[:40]


def _queries_with_planted_key(folder: Path) -> Path:
    text = DEMO_QUERIES.read_text(encoding="utf-8")
    path = folder / DEMO_QUERIES.name
    path.write_text(text.replace(_DOCUMENTED_KEY_ID, PLANTED_KEY_ID).replace(_DOCUMENTED_SECRET, PLANTED_SECRET),
                    encoding="utf-8")
    return path


def load_demo(*, engine: Engine | None = None) -> dict:
    """Create the demo users and import the demo queries, unless they are already there."""
    users = [{"name": n, "role": r, "password": p} for n, r, p in DEMO_USERS]
    actor = auth.command_line_actor()
    with session_scope(engine) as session:
        if auth.get_user(session, DEMO_USERS[0][0]) is not None:
            n_queries = session.exec(select(func.count()).select_from(Query)).one()
            return {"loaded": False, "queries": n_queries, "annotations": 0, "users": users}
        for name, role, password in DEMO_USERS:
            auth.create_user(session, actor=actor, name=name, role=role, password=password)
    with tempfile.TemporaryDirectory() as folder:
        summary = import_file(_queries_with_planted_key(Path(folder)), actor=actor, source="demo", engine=engine)
    # The same checks `import` runs, so the demo's planted credentials are flagged from the start.
    triage = triage_beside_writers(actor=actor, engine=engine)
    labels = import_annotations(DEMO_ANNOTATIONS, actor=actor, engine=engine)
    with session_scope(engine) as session:
        # Three annotators per item, final only when all three agree: the lead has conflicts to resolve.
        for key, value in (("overlap", 3), ("min_annotations", 3), ("keep_quorum", 3)):
            configure.change_setting(session, actor=actor, key=key, value=value)
    with session_scope(engine) as session:
        queue.assign(session, actor=actor)  # open the rest of the demo queries to the annotators
    return {"loaded": True, "queries": summary.imported, "annotations": labels.created, "users": users,
            "triage": {"duplicate_clusters": len(triage["duplicate_clusters"]),
                       "with_secrets": len({hit["id"] for hit in triage["secrets"]})}}
