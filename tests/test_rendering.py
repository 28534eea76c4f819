"""Code-aware display: blocks, highlighting that stays inert, language suggestions."""

from __future__ import annotations

from curation_app.core.languages import label_for, suggest_languages
from curation_app.core.rendering import highlight, split_blocks, suggest_for_messages


def test_fenced_blocks_keep_their_language_and_prose_stays_prose():
    text = "Why does this fail?\n```python\nprint(1)\n```\nand this one:\n~~~js\nconsole.log(2)\n~~~\nthanks"
    blocks = split_blocks(text)
    assert [(b.kind, b.language, b.fenced) for b in blocks] == [
        ("prose", None, False), ("code", "python", True), ("prose", None, False),
        ("code", "js", True), ("prose", None, False)]
    assert blocks[1].text == "print(1)"


def test_unfenced_code_is_found_and_guessed():
    text = ("my loop is slow:\n\nfor (int i = 0; i < n; i++) {\n    total += v[i];\n}\n"
            "printf(\"%d\", total);\n\nany idea?")
    kinds = [(b.kind, b.language) for b in split_blocks(text)]
    assert kinds[0] == ("prose", None) and kinds[1][0] == "code" and kinds[-1] == ("prose", None)
    assert kinds[1][1] == "c"


def test_a_label_after_code_stays_with_the_prose_that_follows():
    text = ("EF Core throws:\n\nSystem.InvalidOperationException: The LINQ expression\n"
            "    .Where(o => o.Month == m)' could not be translated.\n\ncode:\n\n"
            "```csharp\nvar x = 1;\n```")
    blocks = split_blocks(text)
    assert [(b.kind, b.fenced) for b in blocks] == [("prose", False), ("code", True)]
    assert blocks[0].text.rstrip().endswith("code:") and "could not be translated" in blocks[0].text

    assembly = "my loop never ends:\nloop:\n    dec ecx\n    jnz loop\ndone:\n\nwhy?"
    blocks = split_blocks(assembly)  # a label right after code is code
    assert [b.kind for b in blocks] == ["prose", "code", "prose"]
    assert blocks[1].text == "loop:\n    dec ecx\n    jnz loop\ndone:" and blocks[2].text == "why?"


def test_a_single_code_looking_line_in_prose_is_not_a_block():
    assert [b.kind for b in split_blocks("I tried x = 5 but it fails.\nWhat now?")] == ["prose"]


def test_highlighting_escapes_markup_in_code():
    rendered = highlight("<script>alert(1)</script>\n<img src=x onerror=alert(2)>", "html")
    assert "<script>" not in rendered and "<img" not in rendered
    assert "&lt;" in rendered and "alert" in rendered


def test_language_suggestions_rank_fences_over_cues_over_mentions():
    suggestions = suggest_for_messages([{"role": "user", "content":
                                         "In Rust, how do I do this?\n```go\nfunc main() {}\n```"}])
    assert [(s.language, s.evidence) for s in suggestions] == [("go", "fence"), ("rust", "mention")]
    assert suggest_languages([], "write me a poem")[0].language == "general"
    assert suggest_for_messages([{"role": "user", "content": "#include <iostream>\nint main() {\n  std::cout << 1;\n}"}])[0].language == "c++"


def test_fence_tags_map_to_the_vocabulary():
    assert [label_for(t) for t in ("py", "JavaScript", "csharp", "sh", "text", "zig")] == [
        "python", "js", "c#", "bash", None, "zig"]
