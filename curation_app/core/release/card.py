"""The dataset card (README.md) of a release: Hugging Face front matter, how the items were
selected, agreement, scores, distributions and file checksums, rendered from card.md.j2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent),
    autoescape=False,  # markdown, not HTML: escaping would change the card's bytes
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,  # a manifest missing a value fails instead of printing nothing
)
_TEMPLATES.filters["md_cell"] = _md_cell
# Jinja's own tojson escapes <, > and & for HTML; the card's JSON is plain json.dumps.
_TEMPLATES.filters["json"] = json.dumps
# Python's format(), so ".3f", ".1%", "," and "g" mean what they mean in Python (Jinja's format is printf).
_TEMPLATES.filters["fmt"] = format


def _size_category(n: int) -> str:
    return "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "100K<n<1M"


def dataset_card(name: str, version: str, manifest: dict, dists: dict) -> str:
    selection = manifest["selection"]
    spec = selection["spec"]
    return _TEMPLATES.get_template("card.md.j2").render(
        name=name, version=version, manifest=manifest, dists=dists, spec=spec, report=selection["report"],
        size_category=_size_category(manifest["items"]),
        filters={k: v for k, v in spec.items() if v and k not in ("size", "seed", "mix")},
        agreement=manifest["agreement"], scores=manifest.get("scores"))
