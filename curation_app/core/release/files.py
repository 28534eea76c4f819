"""The data files of a release: the public shape of an item, data.jsonl, data.parquet, and the
summary of the project's score fields over the released items.

Both files are written item by item (Parquet in row groups), with their sha256 computed from the
bytes as they are written, so a release of any size needs memory for one row group, not for
every item. A release writes data.jsonl from the database and reads data.parquet back from it
(`parquet_from_jsonl`), so the two files hold the same items by construction."""

from __future__ import annotations

import hashlib
import io
import itertools
import statistics
from pathlib import Path
from typing import BinaryIO, Iterable

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
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


# Items per Parquet row group: large enough for good compression and fast reading, small enough
# that one group of long conversations stays at a few MB.
ROW_GROUP_ITEMS = 5000


class _DigestingFile:
    """A file being written, with the sha256 and size of everything written to it."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        view = memoryview(data)  # pyarrow hands over its buffers: no copy
        self._digest.update(view)
        self.size += view.nbytes
        return self._handle.write(view)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:  # the caller's `with open(...)` closes the real file
        self.closed = True

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def entry(self) -> dict:
        """The file's manifest entry."""
        return {"sha256": self._digest.hexdigest(), "bytes": self.size}


def write_jsonl(items: Iterable[dict], path: Path) -> dict:
    """Write the items as JSON lines; returns {"sha256", "bytes"} of the file."""
    with open(path, "wb") as handle:
        digesting = _DigestingFile(handle)
        keys: tuple[str, ...] = ()
        for item in items:  # compact, UTF-8, keys in ITEM_KEYS order: the same items give the same bytes
            keys = keys or item_keys([item])  # public_item's keys, found once: every item has the same
            digesting.write(orjson.dumps({key: item[key] for key in keys}) + b"\n")
    return digesting.entry()


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


def _open_parquet(handle: BinaryIO, schema: pa.Schema) -> tuple[_DigestingFile, pq.ParquetWriter]:
    digesting = _DigestingFile(handle)
    # No pandas metadata and no timestamps: the same items give the same bytes.
    return digesting, pq.ParquetWriter(digesting, schema, compression="zstd", write_statistics=True,
                                       store_schema=False)


def write_parquet(items: Iterable[dict], path: Path) -> dict:
    """Write the items as Parquet, `ROW_GROUP_ITEMS` to a row group; returns {"sha256", "bytes"}.
    Every item has the keys of the first (the columns come from it)."""
    items = iter(items)
    group = list(itertools.islice(items, ROW_GROUP_ITEMS))
    first = group[0] if group else {}
    schema = parquet_schema(list(first["scores"]) if "scores" in first else (), response_keys(first))
    with open(path, "wb") as handle:
        digesting, writer = _open_parquet(handle, schema)
        with writer:
            while True:
                columns = {name: [item[name] for item in group] for name in schema.names}
                writer.write_table(pa.Table.from_pydict(columns, schema=schema))
                group = list(itertools.islice(items, ROW_GROUP_ITEMS))
                if not group:
                    break
    return digesting.entry()


def parquet_from_jsonl(jsonl: Path, path: Path, schema: pa.Schema) -> dict:
    """Write the items of a data.jsonl (as `write_jsonl` writes it) as Parquet with this schema,
    `ROW_GROUP_ITEMS` lines to a row group: Arrow's JSON reader parses them straight into
    columns, the same values `write_parquet` gives. Returns {"sha256", "bytes"} of the file."""
    # One row group's lines at a time, in one thread and one block: Arrow's streaming reader reads
    # ahead and holds several times as much.
    # As from_pydict does, keys the schema does not have are left out.
    parse_options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    with open(jsonl, "rb") as lines, open(path, "wb") as handle:
        digesting, writer = _open_parquet(handle, schema)
        with writer:
            while group := b"".join(itertools.islice(lines, ROW_GROUP_ITEMS)):
                table = pa_json.read_json(io.BytesIO(group), parse_options=parse_options, read_options=pa_json.ReadOptions(
                    use_threads=False, block_size=len(group) + 1))
                writer.write_table(table.select(schema.names))
    return digesting.entry()


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
