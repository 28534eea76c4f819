"""The one rule for language labels: the vocabulary's spelling for any case or other name of a
language, and a clear refusal for a name outside the vocabulary."""

from __future__ import annotations

import json

import pytest

from curation_app.core.errors import InvalidInput
from curation_app.core.labels import canonical_languages, clean_fields, language_label
from curation_app.core.languages import RELATED_TAGS, SPELLINGS
from curation_app.core.taxonomy import default_taxonomy
from tests.conftest import shared_file

VOCABULARY = default_taxonomy().languages


@pytest.mark.parametrize("given, stored", [
    (["RUST", "Rust", "rust"], ["rust"]),
    (["C++", "cpp", "CPP"], ["c++"]),
    (["JavaScript", "js"], ["js"]),
    (["TypeScript", "ts", "tsx"], ["ts"]),
    (["py", "python3", "Python 3"], ["python"]),
    (["golang", "Go"], ["go"]),
    (["C#", "csharp", "C Sharp"], ["c#"]),
    (["shell", "sh", "Bash"], ["bash"]),
    (["MySQL", "PostgreSQL"], ["sql"]),  # guidelines 4.3: SQL of any database is sql
    ("HTML/CSS|gas|pad", ["html/css", "GAS", "PAD"]),  # the vocabulary's own spelling, from a file's cell
])
def test_every_spelling_of_a_language_is_stored_as_the_vocabulary_writes_it(given, stored):
    assert canonical_languages(languages=given, vocabulary=VOCABULARY) == stored


def test_near_duplicate_labels_of_the_vocabulary_stay_apart():
    # CodeArena kept both spellings as labels; merging them would rewrite what annotators chose.
    assert canonical_languages(languages=["ahk", "AutoHotkey", "mq4", "MQL4", "c/c++", "c"],
                               vocabulary=VOCABULARY) == ["ahk", "autohotkey", "mq4", "mql4", "c/c++", "c"]


def test_every_default_label_names_itself_and_every_alias_group_names_a_default_label():
    assert [language_label(name.upper(), vocabulary=VOCABULARY) for name in VOCABULARY] == list(VOCABULARY)
    assert set(SPELLINGS) <= set(VOCABULARY) and set(RELATED_TAGS) <= set(VOCABULARY)


def test_codearena_figure_labels_are_the_default_vocabulary():
    figure = json.loads(shared_file("codearena", "figure3_languages_approx.json").read_text(encoding="utf-8"))
    labels = [row["language"] for row in figure["rows"]]
    assert len(labels) == figure["num_language_labels"] == len(VOCABULARY)
    assert canonical_languages(languages=labels, vocabulary=VOCABULARY) == labels


@pytest.mark.parametrize("name, hint", [
    ("Klingon", "(css, c++, python, ts, general, html, bash, GAS, ...)"),
    ("xml", "(nearest label: 'html')"),  # a relative, not a spelling: never merged silently
    ("vb.net", "(nearest label: 'vba')"),
])
def test_a_name_outside_the_vocabulary_is_refused_naming_it_and_where(name, hint):
    with pytest.raises(InvalidInput) as refused:
        canonical_languages(languages=["python", name], vocabulary=VOCABULARY, where="row 3")
    assert str(refused.value) == (f"row 3: language {name!r} is not in the project's vocabulary {hint}; "
                                  "an admin can add it with the setting extra_languages")


def test_a_replaced_vocabulary_gets_the_aliases_in_its_own_spelling():
    vocabulary = ("Python", "JavaScript", "C++", "Go")
    assert canonical_languages(languages=["js", "golang", "CPP", "python3", "javascript"],
                               vocabulary=vocabulary) == ["JavaScript", "Go", "C++", "Python"]
    with pytest.raises(InvalidInput, match="language 'rust' is not"):
        canonical_languages(languages=["rust"], vocabulary=vocabulary)


def test_reading_stored_labels_keeps_unknown_names_one_spelling_each():
    assert canonical_languages(languages=["Klingon", "RUST", "klingon "], vocabulary=VOCABULARY,
                               keep_unknown=True) == ["klingon", "rust"]
    assert canonical_languages(languages=[], vocabulary=VOCABULARY) is None


def test_clean_fields_uses_the_rule_and_names_where():
    cleaned = clean_fields({"languages": "RUST| Rust |golang"}, default_taxonomy(), complete=False)
    assert cleaned["languages"] == ["rust", "go"]
    with pytest.raises(InvalidInput, match="^query q7: language 'Klingon' is not in the project's vocabulary"):
        clean_fields({"languages": ["Klingon"]}, default_taxonomy(), complete=False, where="query q7")
