"""Choosing a release's items from the pool of final labels, as plain functions without a database."""

from __future__ import annotations

import pytest

from curation_app.core import release
from curation_app.core.errors import InvalidInput
from curation_app.core.release import ReleaseSpec
from curation_app.core.taxonomy import default_taxonomy

TAXONOMY = default_taxonomy()
SUBCATEGORIES = [sub for subs in TAXONOMY.categories.values() for sub in subs]
OWNER = TAXONOMY.subcategory_to_category


def pool_of(n: int, *, subcategories=SUBCATEGORIES[:5], languages=("python", "rust", "go")) -> list[dict]:
    """n items spread over the subcategories, languages and difficulties, ids p000, p001..."""
    items = []
    for i in range(n):
        sub = subcategories[i % len(subcategories)]
        items.append({"id": f"p{i:03d}", "subcategory": sub, "category": OWNER[sub],
                      "difficulty": TAXONOMY.difficulties[i % 3], "programming_language": [languages[i % len(languages)]],
                      "source": "s", "label_source": "unanimous", "n_annotators": 2})
    return items


def test_the_whole_pool_when_no_size_is_asked():
    pool = pool_of(12)
    chosen, report = release.select_items(pool, ReleaseSpec(), TAXONOMY)
    assert [i["id"] for i in chosen] == sorted(i["id"] for i in pool)
    assert report["shortfall"] == 0 and report["selected"] == 12


def test_a_sample_covers_every_subcategory_and_language_first_and_is_reproducible():
    pool = pool_of(60, languages=("python", "rust", "go", "zig"))
    spec = ReleaseSpec(size=6, seed=7)
    chosen, report = release.select_items(pool, spec, TAXONOMY)
    assert len(chosen) == 6 and report["subcategories_covered"] == 5
    assert report["languages_covered"] == report["languages_in_pool"] == 4
    assert release.select_items(pool, spec, TAXONOMY)[0] == chosen  # the same seed, the same items
    others = {tuple(i["id"] for i in release.select_items(pool, ReleaseSpec(size=6, seed=s), TAXONOMY)[0])
              for s in range(5)}
    assert len(others) > 1  # the seed matters


def test_difficulty_quotas_add_up_to_the_size_and_a_shortfall_is_reported():
    mix = release.parse_mix("easy=23,medium=44,hard=33", TAXONOMY)
    assert dict(mix) == pytest.approx({"easy": 0.23, "medium": 0.44, "hard": 0.33})
    chosen, report = release.select_items(pool_of(90), ReleaseSpec(size=30, mix=mix), TAXONOMY)
    counts = {d: sum(i["difficulty"] == d for i in chosen) for d in TAXONOMY.difficulties}
    assert counts == {"easy": 7, "medium": 13, "hard": 10} and sum(counts.values()) == 30
    hard_only = [i for i in pool_of(90) if i["difficulty"] != "hard"]
    _, short = release.select_items(hard_only, ReleaseSpec(size=30, mix=mix), TAXONOMY)
    assert short["shortfall"] == 10 and "hard: quota 10, only 0 (0 in the pool)" in short["problems"]
    assert f"{len(SUBCATEGORIES) - 5} subcategories have no final kept item yet" in short["problems"]


@pytest.mark.parametrize("text, message", [
    ("easy=1,impossible=2", "impossible"), ("easy=-1", "must not be negative"), ("easy=0,hard=0", "more than 0"),
])
def test_a_bad_mix_is_refused_with_what_is_wrong(text, message):
    with pytest.raises(InvalidInput, match=message):
        release.parse_mix(text, TAXONOMY)


def test_distributions_count_each_facet():
    dists = release.distributions(pool_of(6))
    assert dists["difficulty"] == {"easy": 2, "medium": 2, "hard": 2}
    assert dists["programming_language"] == {"python": 2, "rust": 2, "go": 2} and dists["n_annotators"] == {"2": 6}


def test_category_quotas_by_count_and_by_share_with_the_shortfall_reported():
    mains = list(TAXONOMY.categories)  # the pool's five subcategories belong to the first main category...
    subs = [TAXONOMY.categories[mains[0]][0], TAXONOMY.categories[mains[1]][0], TAXONOMY.categories[mains[2]][0]]
    pool = pool_of(90, subcategories=subs)  # 30 items in each of three main categories
    quotas = release.parse_category_quotas([f"{mains[0]}=50%", f"{mains[1]}=6"], TAXONOMY)
    chosen, report = release.select_items(pool, ReleaseSpec(size=20, seed=3, category_quotas=quotas), TAXONOMY)
    counts = {m: sum(i["category"] == m for i in chosen) for m in mains[:3]}
    assert counts == {mains[0]: 10, mains[1]: 6, mains[2]: 4} and len(chosen) == 20
    assert report["category_quotas"][mains[0]] == {"quota": 10, "selected": 10, "available": 30}
    # A quota the pool cannot fill is reported, and the size is made up from the other categories.
    scarce = [i for i in pool if i["category"] != mains[1]][:40] + [i for i in pool if i["category"] == mains[1]][:2]
    chosen, report = release.select_items(scarce, ReleaseSpec(size=20, category_quotas=quotas), TAXONOMY)
    assert len(chosen) == 20 and f"{mains[1]}: quota 6, only 2 (2 in the pool)" in report["problems"]
    # Subcategories too; the names keep their commas (one quota per text).
    web = release.parse_category_quotas(["Web, Mobile Development=3"], TAXONOMY)
    assert web == (("Web, Mobile Development", 3.0, False),)
    assert ReleaseSpec(category_quotas=quotas).as_dict()["category_quotas"] == {mains[0]: "50%", mains[1]: 6}


@pytest.mark.parametrize("texts, message", [
    (["Rocketry=5"], "neither a main category nor a subcategory"),
    (["Security=five"], "not a count or a percentage"),
    (["Security=2.5"], "a count is a whole number"),
    (["Security"], "is not NAME=COUNT"),
    (["Security=2", "Development and Programming=3"], "not both"),
    (["Security=60%", "Cryptography=50%"], "more than 100"),
    (["Security=1", "Security=2"], "named twice"),
])
def test_a_bad_category_quota_is_refused_with_what_is_wrong(texts, message):
    with pytest.raises(InvalidInput, match=message):
        release.parse_category_quotas(texts, TAXONOMY)
