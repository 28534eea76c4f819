"""Builders shared by the test modules: data files in the formats the CLI reads, and label rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlmodel import Session, select

from curation_app.core import annotation_io, auth
from curation_app.core.importer import import_file
from curation_app.database import session_scope
from curation_app.models import User

DEBUG = ("Development and Programming", "Code Debugging")
SECURITY = ("Specialized Computing Areas", "Security")

# One complete annotation-file row, without query_id and annotator.
ROW = {"decision": "keep", "reject_reason": "", "category": "Development and Programming",
       "subcategory": "Code Debugging", "languages": "python|sql", "difficulty": "easy",
       "rewritten_prompt": "", "reference_answer": "=SUM(A1:A3) is not code", "notes": "@bob look"}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    """An annotation file with exactly the columns `annotations export` writes."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=annotation_io.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def label(query_id, annotator, *, decision="keep", category=DEBUG, difficulty="easy", languages="python",
          reject_reason="", reference_answer="Use a set."):
    """An annotation-file row; a rejected item carries no keep-only labels."""
    kept = decision == "keep"
    return {**ROW, "query_id": query_id, "annotator": annotator, "decision": decision,
            "category": category[0] if kept else "", "subcategory": category[1] if kept else "",
            "difficulty": difficulty if kept else "", "languages": languages if kept else "",
            "reject_reason": reject_reason, "reference_answer": reference_answer, "notes": ""}


def make_team(engine, admin, folder: Path, *, queries: int, prompt: str = "Question {i}: why is my python loop slow?",
              people=(("ann1", "annotator"), ("ann2", "annotator"), ("ann3", "annotator"), ("boss", "lead"))) -> dict:
    """Queries q0, q1, ... imported from a file in `folder`, and these users (password "password1");
    returns every user by name."""
    rows = [{"id": f"q{i}", "prompt": prompt.format(i=i)} for i in range(queries)]
    import_file(write_jsonl(folder / "q.jsonl", rows), actor=admin, engine=engine)
    with session_scope(engine) as session:
        for name, role in people:
            auth.create_user(session, actor=admin, name=name, role=role, password="password1")
    with Session(engine) as session:
        return {u.name: u for u in session.exec(select(User))}
