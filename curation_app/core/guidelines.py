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


_HEADER_FIELD = re.compile(r"^([a-z_]+):\s*(\S.*)$")
# A link to another file of guidelines/ ("CHANGELOG.md", "v1.md"): it means nothing in the app,
# where a relative link opens another page. The text stays; the page shows those files itself.
_FILE_LINK = re.compile(r"\[([^\]]+)\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+\.md)\)", re.IGNORECASE)


def guideline_document(version: str) -> dict:
    """One version prepared for reading in the app: {"title", "fields" (the "name: value" lines
    under the title, such as guideline_version), "body" (the rest, links to other guideline
    files as plain words), "changelog" (CHANGELOG.md, the same way; "" when there is none)}."""
    lines = guideline_text(version).splitlines()
    title = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("# ") else ""
    rest = lines[1:] if title else lines
    fields = {}
    while rest and (match := _HEADER_FIELD.match(rest[0].strip())):
        fields[match.group(1)] = match.group(2).strip()
        rest = rest[1:]
    changelog = GUIDELINES_DIR / "CHANGELOG.md"
    return {"title": title, "fields": fields, "body": _plain_file_links("\n".join(rest).strip("\n")),
            "changelog": _plain_file_links(changelog.read_text(encoding="utf-8")) if changelog.is_file() else ""}


def _plain_file_links(text: str) -> str:
    return _FILE_LINK.sub(lambda match: f"{match.group(1)} (below)" if match.group(2).upper() == "CHANGELOG.MD"
                          else match.group(1), text)
