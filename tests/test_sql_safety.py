"""No SQL is built from strings at run time: every statement the app sends is either SQLAlchemy
with bound parameters or constant text. A statement built with an f-string, `%` or `.format()`
fails this test unless it is one of the reviewed ones below, which format only constants."""

from __future__ import annotations

import ast

from tests.conftest import REPO_ROOT

SQL_CALLS = {"execute", "exec_driver_sql", "executemany", "executescript", "text"}
REVIEWED = {  # file -> source of the formatted SQL; each interpolates a constant of the app, never input
    "curation_app/core/backup.py": {"f'SELECT count(*) FROM \"{table}\"'"},  # the app's own table names
    "curation_app/database.py": {
        'f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"',
        "f\"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}\"",
    },
}


def built_sql(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        return any(isinstance(side, (ast.Constant, ast.JoinedStr)) and not isinstance(getattr(side, "value", ""), (int, float))
                   for side in (node.left, node.right))
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant))


def formatted_sql_in(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in SQL_CALLS and built_sql(node.args[0]):
            found.append((node.lineno, ast.get_source_segment(source, node.args[0])))
    return found


def test_no_sql_is_built_from_strings_except_the_reviewed_constants():
    found = [(str(path.relative_to(REPO_ROOT)), line, sql)
             for path in sorted((REPO_ROOT / "curation_app").rglob("*.py"))
             for line, sql in formatted_sql_in(path.read_text(encoding="utf-8"))]
    unreviewed = [(file, line, sql) for file, line, sql in found if sql not in REVIEWED.get(file, set())]
    assert unreviewed == [], "SQL built from strings; use bound parameters"
    assert {(file, sql) for file, _, sql in found} == {(f, s) for f, sqls in REVIEWED.items() for s in sqls}


def test_the_check_catches_formatted_sql():
    for code in ('session.execute(text(f"SELECT * FROM query WHERE id = {value}"))',
                 'connection.exec_driver_sql("DELETE FROM query WHERE id = %s" % value)',
                 'connection.execute("SELECT " + column)',
                 'session.execute(text("SELECT {}".format(column)))'):
        assert len(formatted_sql_in(code)) == 1, code
    assert formatted_sql_in('session.execute(text("SELECT 1"))') == []
    assert formatted_sql_in('session.execute(select(Query).where(Query.id == value))') == []
