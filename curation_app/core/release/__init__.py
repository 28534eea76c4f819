"""Frozen benchmark releases: select, preview, write, verify and compare.

A release is one self-contained folder, exports/<name>/<version>/, with data.jsonl, data.parquet,
manifest.json (sha256 and size of every file) and README.md (a dataset card). It is written in a
hidden temporary folder and renamed into place in one step, so a crash never leaves a folder
that looks complete. The same database state and selection give byte-identical data files.

selection.py chooses the items, files.py writes the data files, card.py (with card.md.j2) the
dataset card, provenance.py the card's sources, counts from import to release and contamination
check, freeze.py the folder and its database record, readback.py verifies, compares and lists
releases.
"""

from curation_app.core.readers import file_sha256
from curation_app.core.release.card import dataset_card
from curation_app.core.release.files import (
                                             ALL_FILES,
                                             CHANGE_KEYS,
                                             DATA_FILES,
                                             ITEM_KEYS,
                                             item_keys,
                                             parquet_schema,
                                             score_summary,
                                             write_jsonl,
                                             write_parquet,
)
from curation_app.core.release.freeze import create_release, exports_dir, shown_path
from curation_app.core.release.readback import diff, list_releases, load_items, recorded_files, verify
from curation_app.core.release.selection import (
                                             Preview,
                                             ReleaseSpec,
                                             _pool,
                                             distributions,
                                             parse_category_quotas,
                                             parse_mix,
                                             preview,
                                             select_items,
)

__all__ = [
    "shown_path",
    "ALL_FILES", "CHANGE_KEYS", "DATA_FILES", "ITEM_KEYS", "Preview", "ReleaseSpec",
    "_pool",  # the selection tests read the pool directly
    "create_release", "dataset_card", "diff", "distributions", "exports_dir", "file_sha256", "item_keys",
    "list_releases", "load_items", "parquet_schema", "parse_category_quotas", "parse_mix", "preview", "recorded_files", "score_summary",
    "select_items", "verify", "write_jsonl", "write_parquet",
]
