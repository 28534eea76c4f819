"""The agreement figures in the shapes the Agreement page draws: one row per field and measure
with its interval, the annotator-pair matrix as cells, confusion matrices in the field's own order.

The measures themselves are computed by core/agreement; this module only reshapes them.
"""

from __future__ import annotations

import pandas as pd

from curation_app.core import agreement
from curation_app.core.agreement import database as agreement_db
from curation_app.core.project import Project

SUMMARY_COLUMNS = ["field", "level", "items", "annotators", "measure", "value", "low", "high", "why_not"]


def field_measures(reports: dict[str, dict]) -> pd.DataFrame:
    """One row per field and measure the field's level has, in the order of agreement.MEASURES:
    value, 95% interval (low, high; NaN without one) and why the value or the interval is missing."""
    rows = []
    for field, report in reports.items():
        for measure in agreement.MEASURES:
            if measure not in report:
                continue
            interval = report["ci95"].get(measure) or {}
            value = report[measure]
            why = report["reasons"].get(measure) if value is None else report["reasons"].get(f"ci95.{measure}")
            rows.append({"field": field, "level": report["level"], "items": report["n_items"],
                         "annotators": report["n_annotators"], "measure": measure, "value": value,
                         "low": interval.get("low"), "high": interval.get("high"), "why_not": why or ""})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def field_table(measures: pd.DataFrame) -> pd.DataFrame:
    """One row per field, one column per measure, each cell "value [low, high]" ("n/a" when undefined,
    "" when the field's level has no such measure)."""
    def cell(row: pd.Series) -> str:
        if row["value"] is None or pd.isna(row["value"]):
            return "n/a"
        if row["low"] is None or pd.isna(row["low"]):
            return f"{row['value']:.3f}"
        return f"{row['value']:.3f} [{row['low']:.2f}, {row['high']:.2f}]"

    if measures.empty:
        return pd.DataFrame(columns=["field", "level", "items", "annotators"])
    cells = measures.assign(cell=measures.apply(cell, axis=1))
    wide = cells.pivot(index="field", columns="measure", values="cell")
    order = [m for m in agreement.MEASURES if m in wide.columns]
    fields = list(dict.fromkeys(measures["field"]))
    header = measures.drop_duplicates("field").set_index("field")[["level", "items", "annotators"]]
    return header.join(wide[order].fillna("")).loc[fields].reset_index()


def value_order(project: Project, field: str) -> list[str]:
    """A field's values in the order the project declares them (difficulty easy, medium, hard;
    categories and subcategories as the taxonomy lists them); [] for fields without a declared list."""
    taxonomy = project.taxonomy
    declared = {
        "decision": list(taxonomy.decisions),
        "reject_reason": list(taxonomy.reject_reasons),
        "category": list(taxonomy.categories),
        "subcategory": [sub for subs in taxonomy.categories.values() for sub in subs],
        "difficulty": list(taxonomy.difficulties),
    }
    return declared.get(field, [])


def ordered_confusion(project: Project, table: pd.DataFrame, field: str) -> pd.DataFrame:
    """agreement_db.confusion with rows and columns in the field's declared order (values used but
    not declared, e.g. from an older taxonomy, come last, sorted); only values that occur."""
    counts = agreement_db.confusion(table, field)
    if counts.empty:
        return counts
    present = set(counts.index)
    declared = [value for value in value_order(project, field) if value in present]
    order = declared + sorted(present - set(declared), key=str)
    return counts.reindex(index=order, columns=order)


def confusion_cells(counts: pd.DataFrame) -> pd.DataFrame:
    """A confusion matrix as one row per cell: value_a, value_b, count, share_of_row (of value_a's pairs)."""
    if counts.empty:
        return pd.DataFrame(columns=["value_a", "value_b", "count", "share_of_row"])
    totals = counts.sum(axis=1)
    rows = [{"value_a": a, "value_b": b, "count": int(counts.at[a, b]),
             "share_of_row": float(counts.at[a, b] / totals[a]) if totals[a] else 0.0}
            for a in counts.index for b in counts.columns]
    return pd.DataFrame(rows)


def pair_cells(matrix: pd.DataFrame) -> pd.DataFrame:
    """The annotator x annotator matrix as one row per pair (both orders; no diagonal, no pair
    without a value): annotator, other, agreement."""
    if matrix.empty:
        return pd.DataFrame(columns=["annotator", "other", "agreement"])
    rows = [{"annotator": a, "other": b, "agreement": float(matrix.at[a, b])}
            for a in matrix.index for b in matrix.columns if a != b and pd.notna(matrix.at[a, b])]
    return pd.DataFrame(rows, columns=["annotator", "other", "agreement"])
