"""The dataset card (README.md) of a release: Hugging Face front matter, where the queries came
from and how many were kept at each step, how the items were selected, the contamination check,
agreement, scores, distributions and file checksums, rendered from card.md.j2.

The front matter declares one config, `default`, on data.parquet, with the column types
(`dataset_info.features`) taken from the Parquet file's schema. `datasets` reads a folder with one
builder, chosen from the data files' format, so a second config on data.jsonl beside it would be
read with the Parquet builder and fail; Parquet is the default because it carries its own types
(the JSON reader would infer `null` for a column empty in every row). data.jsonl loads with the
same types by passing those features (the card's "Load it" section shows how)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import jinja2
import pyarrow as pa

from curation_app.core.release.files import parquet_schema


def _md_text(value: Any) -> str:
    """Text made by users (names, languages, filter values) as markdown that shows it and no HTML."""
    return html.escape(str(value), quote=False)


def _md_cell(value: Any) -> str:
    return _md_text(value).replace("|", "\\|").replace("\n", " ")


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent),
    autoescape=False,  # markdown, not HTML: user-made text goes through the md and md_cell filters
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,  # a manifest missing a value fails instead of printing nothing
)
_TEMPLATES.filters["md_cell"] = _md_cell
_TEMPLATES.filters["md"] = _md_text
# Jinja's own tojson escapes <, > and & for HTML; the card's JSON is plain json.dumps.
_TEMPLATES.filters["json"] = json.dumps
# Python's format(), so ".3f", ".1%", "," and "g" mean what they mean in Python (Jinja's format is printf).
_TEMPLATES.filters["fmt"] = format


def _size_category(n: int) -> str:
    return "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "100K<n<1M"


# Arrow types of the release's columns -> Hugging Face `datasets` dtypes.
_DTYPES = {pa.string(): "string", pa.large_string(): "large_string", pa.bool_(): "bool", pa.int32(): "int32",
           pa.int64(): "int64", pa.float32(): "float32", pa.float64(): "float64"}
# The same columns as pandas reads them from Parquet, to read data.jsonl to the same dtypes.
_PANDAS_DTYPES = {"string": "str", "large_string": "str", "bool": "bool", "int32": "int32", "int64": "int64",
                  "float32": "float32", "float64": "float64"}


def _feature_lines(fields: Any, indent: str) -> list[str]:
    """`dataset_info.features` YAML, as `datasets` writes it, for a schema or a struct's fields."""
    lines = []
    for arrow_field in fields:
        lines.append(f"{indent}- name: {json.dumps(arrow_field.name)}")
        lines += _type_lines(arrow_field.type, indent + "  ")
    return lines


def _type_lines(arrow_type: pa.DataType, indent: str) -> list[str]:
    if pa.types.is_struct(arrow_type):
        return [f"{indent}struct:", *_feature_lines(arrow_type, indent)]
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = arrow_type.value_type
        if pa.types.is_struct(inner):
            return [f"{indent}list:", *_feature_lines(inner, indent)]
        return [f"{indent}list: {_DTYPES[inner]}"] if inner in _DTYPES else [f"{indent}list:",
                                                                             *_type_lines(inner, indent + "  ")]
    if arrow_type not in _DTYPES:
        raise ValueError(f"column type {arrow_type} has no dataset card dtype")
    return [f"{indent}dtype: {_DTYPES[arrow_type]}"]


def features_yaml(schema: pa.Schema) -> str:
    return "\n".join(_feature_lines(schema, ""))


def pandas_dtypes(schema: pa.Schema) -> dict[str, str]:
    """The scalar columns' pandas dtypes as pandas reads data.parquet: `pd.read_json(..., dtype=)`
    reads data.jsonl to the same (a column null in every row is text, not float)."""
    return {f.name: _PANDAS_DTYPES[_DTYPES[f.type]] for f in schema if f.type in _DTYPES}


def dataset_card(name: str, version: str, manifest: dict, dists: dict, *, schema: pa.Schema | None = None) -> str:
    selection = manifest["selection"]
    spec = selection["spec"]
    if schema is None:
        schema = parquet_schema([s["name"] for s in manifest.get("scores") or ()])
    return _TEMPLATES.get_template("card.md.j2").render(
        name=name, version=version, manifest=manifest, dists=dists, spec=spec, report=selection["report"],
        size_category=_size_category(manifest["items"]),
        filters={k: v for k, v in spec.items() if v and k not in ("size", "seed", "mix")},
        agreement=manifest["agreement"], agreement_all=manifest["agreement_all"], scores=manifest.get("scores"),
        features=features_yaml(schema), pandas_dtypes=pandas_dtypes(schema), funnel=manifest["funnel"],
        contamination=manifest["contamination"], sources=manifest["sources"], content=manifest["content"])
