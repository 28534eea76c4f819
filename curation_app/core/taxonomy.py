"""The label vocabulary: main categories with their subcategories, languages, difficulties."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("default_taxonomy.json")


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    categories: dict[str, tuple[str, ...]]  # main category -> its subcategories, in order
    languages: tuple[str, ...]
    difficulties: tuple[str, ...]
    decisions: tuple[str, ...]
    reject_reasons: tuple[str, ...]

    @property
    def subcategory_to_category(self) -> dict[str, str]:
        return {sub: main for main, subs in self.categories.items() for sub in subs}


def taxonomy_problems(data: Any) -> list[str]:
    """Why a taxonomy document is unusable; empty when it is fine."""
    if not isinstance(data, dict):
        return ["a taxonomy must be a JSON object"]
    problems = []
    mains = data.get("main_categories")
    if not isinstance(mains, list) or not mains:
        problems.append("'main_categories' must be a non-empty list of {name, subcategories}")
    else:
        seen: set[str] = set()
        for index, main in enumerate(mains, start=1):
            if not isinstance(main, dict) or not isinstance(main.get("name"), str) or not main["name"]:
                problems.append(f"main_categories[{index}] needs a 'name'")
                continue
            subs = main.get("subcategories")
            if not isinstance(subs, list) or not subs or not all(isinstance(s, str) and s for s in subs):
                problems.append(f"main category {main['name']!r} needs a non-empty list of subcategories")
                continue
            for sub in subs:
                if sub in seen:
                    problems.append(f"subcategory {sub!r} appears under two main categories")
                seen.add(sub)
    for key in ("languages", "difficulties"):
        values = data.get(key)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            problems.append(f"{key!r} must be a non-empty list of names")
    return problems


def taxonomy_from_dict(data: dict) -> Taxonomy:
    return Taxonomy(
        name=str(data.get("name", "custom")),
        version=str(data.get("version", "1")),
        categories={m["name"]: tuple(m["subcategories"]) for m in data["main_categories"]},
        languages=tuple(data["languages"]),
        difficulties=tuple(data["difficulties"]),
        decisions=tuple(data.get("decisions") or ("keep", "reject")),
        reject_reasons=tuple(data.get("reject_reasons") or ("other",)),
    )


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    return taxonomy_from_dict(json.loads(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8")))
