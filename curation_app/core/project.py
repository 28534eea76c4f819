"""One snapshot of the project's configuration, read once per use case and passed down.

A submit, an adjudication or a release needs the taxonomy, the score fields, the acceptance rule,
the overlap and the guideline version together; reading them from one snapshot costs one query
and means every check in that use case sees the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlmodel import Session

from curation_app.core import settings
from curation_app.core.labels import language_label
from curation_app.core.rule import Rule
from curation_app.core.scores import ScoreField, from_setting
from curation_app.core.taxonomy import Taxonomy, default_taxonomy, taxonomy_from_dict


@dataclass(frozen=True)
class Project:
    taxonomy: Taxonomy
    score_fields: tuple[ScoreField, ...]
    rule: Rule
    overlap: int  # annotators per query (k)
    reservation_minutes: int
    guideline_version: str
    ngram: int
    duplicate_threshold: float
    require_reference_answer: bool = False
    review_votes: int = 0  # reviewers per item; 0: no review stage
    review_quorum: int = 3  # keep votes that keep an item


def load_project(session: Session) -> Project:
    values = settings.all_settings(session)
    stored_taxonomy = values["taxonomy"]
    taxonomy = default_taxonomy() if stored_taxonomy is None else taxonomy_from_dict(stored_taxonomy)
    # An added name the taxonomy already has under some spelling (a taxonomy replaced after the
    # name was added) stays one language.
    added = tuple(name.strip() for name in values["extra_languages"]
                  if language_label(name, vocabulary=taxonomy.languages) is None)
    return Project(
        taxonomy=replace(taxonomy, languages=taxonomy.languages + added) if added else taxonomy,
        score_fields=from_setting(values["score_fields"]),
        rule=Rule(values["min_annotations"], values["keep_quorum"],
                  None if values["quorum_fields"] == "all" else frozenset(values["quorum_fields"])),
        overlap=values["overlap"],
        reservation_minutes=values["reservation_minutes"],
        guideline_version=values["guideline_version"],
        ngram=values["ngram"],
        duplicate_threshold=values["duplicate_threshold"],
        require_reference_answer=values["require_reference_answer"],
        review_votes=values["review_votes"],
        review_quorum=values["review_quorum"],
    )
