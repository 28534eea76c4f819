"""What an import of queries says back, in the same words on the command line and in the app."""

from __future__ import annotations

from curation_app.core.errors import ImportRefused

LISTED_PROBLEMS = 50


def problem_lines(refused: ImportRefused, limit: int = LISTED_PROBLEMS) -> list[str]:
    """Each bad row of a refused file with where it is (line or row number)."""
    lines = [f"{refused.file_name}: {where}: {problem}" for where, problem in refused.problems[:limit]]
    if refused.n_problems > limit:
        lines.append(f"... and {refused.n_problems - limit} more")
    return lines


def refusal_line(refused: ImportRefused) -> str:
    return (f"{refused.file_name}: refused, {refused.n_problems} bad row(s); nothing was imported "
            "(fix them, or pass --skip-bad-rows to import the rest)")


def summary_lines(result: dict, file_name: str) -> list[str]:
    """An accepted import (`ImportSummary.as_dict()`, with "triage" when the checks ran after it)."""
    lines = [f"{file_name} ({result['format']}, {result['shape']} shape) as source {result['source']!r}: "
             f"{result['read']} read, {result['imported']} imported, {result['duplicates']} duplicates, "
             f"{result['errors']} skipped"]
    if result["baselines"]:
        lines.append("  baseline answers: " + ", ".join(f"{model} {n}" for model, n in result["baselines"].items()))
    if "error" in result.get("triage", {}):
        lines.append(f"  triage did not run ({result['triage']['error']}); run `python -m curation_app triage` later")
    elif "triage" in result:
        lines.append(f"  triage: {result['triage']['duplicate_clusters']} near-duplicate cluster(s), "
                     f"{result['triage']['with_secrets']} quer(y/ies) with secrets or personal data "
                     "(details: python -m curation_app triage; leads decide on the Triage page)")
    for item in result["skipped"][:LISTED_PROBLEMS]:
        lines.append(f"  skipped {item['location']}: {item['problem']}")
    if result["renamed"]:
        n_renamed = result.get("n_renamed", len(result["renamed"]))  # the list holds the first thousand
        lines.append(f"  {n_renamed} id(s) were already taken and now carry the prefix "
                     f"'{result['source']}:' (first: {result['renamed'][0]['id']} -> {result['renamed'][0]['now']})")
    return lines


def triage_summary(report: dict) -> dict:
    """The two counts an import reports from the triage run that follows it."""
    return {"duplicate_clusters": len(report["duplicate_clusters"]),
            "with_secrets": len({s["id"] for s in report["secrets"]})}


def answers_lines(result: dict, file_name: str) -> list[str]:
    """An answers file (`AnswersSummary.as_dict()`): baseline answers added to known queries."""
    models = ", ".join(f"{name} {count}" for name, count in result["models"].items()) or "none"
    lines = [f"{file_name}: {result['read']} answers read (models: {models}), {result['added']} added as "
             f"baseline answers, {result['replaced']} replaced the same model's earlier answer, "
             f"{result['unchanged']} unchanged, {result['unmatched']} with no matching query"]
    if result["replaced_ids"]:
        lines.append(f"  replaced: {', '.join(result['replaced_ids'][:10])}"
                     f"{' ...' if result['replaced'] > 10 else ''}")
    return lines
