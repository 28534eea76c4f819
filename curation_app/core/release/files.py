"""The data files of a release: the public shape of an item, data.jsonl, data.parquet, and the
summary of the project's score fields over the released items."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Iterable

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curation_app.core.scores import ScoreField

DATA_FILES = ("data.jsonl", "data.parquet")
ALL_FILES = DATA_FILES + ("README.md", "manifest.json")
# Keys of one item, in file order: CodeArena's first, then provenance.
ITEM_KEYS = ("id", "messages", "difficulty", "programming_language", "category", "subcategory",
             "reference_answer", "baseline_answer", "baseline_models", "source", "original_id", "label_source", "n_annotators",
             "field_sources", "rewritten", "original_messages")
# Items of a project with score fields (setting score_fields) also carry "scores": {name: number}.
CHANGE_KEYS = ITEM_KEYS[1:] + ("scores",)
# Items whose queries have baseline answers also carry CodeArena's "<model>_response": that model's
# answer, one key per model among the release's items (null where an item has none), after "scores".
RESPONSE_SUFFIX = "_response"


def response_keys(item: dict) -> tuple[str, ...]:
    return tuple(key for key in item if key.endswith(RESPONSE_SUFFIX))


def item_keys(items: list[dict]) -> tuple[str, ...]:
    return (ITEM_KEYS + (("scores",) if items and "scores" in items[0] else ())
            + (response_keys(items[0]) if items else ()))


def public_item(item: dict) -> dict:
    """An item as it is released: without the selection's private keys such as `_query_id`."""
    public = {key: item[key] for key in ITEM_KEYS}
    if "scores" in item:
        public["scores"] = item["scores"]
    for key in response_keys(item):
        public[key] = item[key]
    return public


def write_jsonl(items: Iterable[dict], path: Path) -> None:
    with open(path, "wb") as handle:
        for item in items:  # compact, UTF-8, keys in ITEM_KEYS order: the same items give the same bytes
            handle.write(orjson.dumps(public_item(item)) + b"\n")


def parquet_schema(score_names: list[str] | tuple[str, ...] = (),
                   response_names: list[str] | tuple[str, ...] = ()) -> pa.Schema:
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    scores = [("scores", pa.struct([(name, pa.float64()) for name in score_names]))] if score_names else []
    return pa.schema([
        ("id", pa.string()), ("messages", pa.list_(message)), ("difficulty", pa.string()),
        ("programming_language", pa.list_(pa.string())), ("category", pa.string()), ("subcategory", pa.string()),
        ("reference_answer", pa.string()), ("baseline_answer", pa.string()),
        ("baseline_models", pa.list_(pa.string())), ("source", pa.string()),
        ("original_id", pa.string()), ("label_source", pa.string()), ("n_annotators", pa.int64()),
        ("field_sources", pa.string()), ("rewritten", pa.bool_()), ("original_messages", pa.string()),
        *scores, *[(name, pa.string()) for name in response_names],
    ])


def write_parquet(items: list[dict], path: Path) -> None:
    schema = parquet_schema(list(items[0]["scores"]) if items and "scores" in items[0] else (),
                            response_keys(items[0]) if items else ())
    columns = {name: [item[name] for item in items] for name in schema.names}
    table = pa.Table.from_pydict(columns, schema=schema)
    # No pandas metadata and no timestamps: the same items give the same bytes.
    pq.write_table(table, path, compression="zstd", write_statistics=True, store_schema=False)


def score_summary(items: list[dict], score_fields: tuple[ScoreField, ...]) -> list[dict]:
    """Per score field: its definition, and how many items have a score, with mean, min and max."""
    summary = []
    for score in score_fields:
        values = [i["scores"][score.name] for i in items if i.get("scores", {}).get(score.name) is not None]
        summary.append({"name": score.name, "label": score.label, "level": score.level, "scale_min": score.minimum,
                        "scale_max": score.maximum, "items": len(values),
                        "mean": round(statistics.fmean(values), 4) if values else None,
                        "min": min(values) if values else None, "max": max(values) if values else None})
    return summary
