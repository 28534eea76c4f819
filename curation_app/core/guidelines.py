"""The annotation guidelines: versioned markdown files in guidelines/."""

from __future__ import annotations

import re
from pathlib import Path

GUIDELINES_DIR = Path(__file__).resolve().parent.parent.parent / "guidelines"


def available_versions() -> list[str]:
    versions = [p.stem for p in GUIDELINES_DIR.glob("v*.md") if re.fullmatch(r"v\d+", p.stem)]
    return sorted(versions, key=lambda v: int(v[1:]))


def guideline_text(version: str) -> str:
    path = GUIDELINES_DIR / f"{version}.md"
    if not re.fullmatch(r"v\d+", version) or not path.is_file():
        return f"No guidelines file for version {version} (expected guidelines/{version}.md)."
    return path.read_text(encoding="utf-8")
