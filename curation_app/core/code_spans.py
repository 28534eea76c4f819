"""How well code pasted without fences is found and labelled, measured against hand labels.

A label names the code spans of one query's user turn as line ranges of `str.splitlines()` (0-based,
inclusive, first and last non-blank line), with a start column where the code begins after a prose
lead-in on its first line, and the languages an annotator would tag. The measure compares them with
`split_blocks` (where each code block starts and ends) and with the language suggestions.

A second, independent check needs no hand labels: answers whose code is fenced, with the fences
taken out, have known spans (`defenced`).

    python -m curation_app.core.code_spans QUESTIONS.jsonl LABELS.json [ANSWERS.jsonl]
"""

from __future__ import annotations

import bisect
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from curation_app.core.languages import CONFIDENT, label_for
from curation_app.core.rendering import Block, split_blocks, suggest_for_messages


@dataclass(frozen=True)
class Span:
    first_line: int
    last_line: int
    start_column: int = 0
    language: str | None = None


def found_spans(text: str, blocks: list[Block]) -> list[Span]:
    """Where each code block of `text` starts and ends, in the labels' line numbers."""
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def line_of(offset: int) -> int:
        return bisect.bisect_right(line_starts, offset) - 1

    spans, cursor = [], 0
    for block in blocks:
        position = text.find(block.text, cursor)
        if position < 0:  # not a piece of the text as written (cannot happen with split_blocks)
            continue
        cursor = position + len(block.text)
        if block.kind != "code":
            continue
        first = position + len(block.text) - len(block.text.lstrip())
        last = position + len(block.text.rstrip()) - 1
        first_line = line_of(first)
        spans.append(Span(first_line, line_of(last), first - line_starts[first_line], block.language))
    return spans


def _same_start(line: str, found: Span, true: Span) -> bool:
    """Same first line, and nothing but blanks between the two start columns (indentation)."""
    low, high = sorted((found.start_column, true.start_column))
    return found.first_line == true.first_line and not line[low:high].strip()


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 1.0


def measure(texts: dict[str, str], labels: list[dict],
            split: Callable[[str], list[Block]] = split_blocks,
            suggest: Callable[[list[dict]], list] = suggest_for_messages) -> dict:
    """Span accuracy and language precision/recall of `split` and `suggest` on labelled queries.

    labels: [{"question_id", "spans": [{"first_line", "last_line", "start_column"?, "language"}],
    "languages": [...]}]; texts: question id -> the user's text. Items without a text are skipped."""
    lines_total = lines_agreeing = 0
    item_agreements: list[float] = []
    true_spans = found_total = spans_exact = items_exact = 0
    labelled_blocks = blocks_labelled_right = 0
    confident_hits = confident_total = true_languages = 0
    top_hits = top_total = 0
    confident_sets_exact = 0
    misses: list[dict] = []
    items = [label for label in labels if label["question_id"] in texts]
    for label in items:
        text = texts[label["question_id"]]
        lines = text.splitlines()
        truth = [Span(s["first_line"], s["last_line"], s.get("start_column", 0), s.get("language"))
                 for s in label["spans"]]
        found = found_spans(text, split(text))

        true_code = {n for span in truth for n in range(span.first_line, span.last_line + 1)}
        found_code = {n for span in found for n in range(span.first_line, span.last_line + 1)}
        scored = [(number in true_code) == (number in found_code) for number, line in enumerate(lines) if line.strip()]
        lines_total += len(scored)
        lines_agreeing += sum(scored)
        item_agreements.append(sum(scored) / len(scored) if scored else 1.0)

        exact = [t for t in truth if any(_same_start(lines[t.first_line], f, t) and f.last_line == t.last_line
                                         for f in found)]
        true_spans += len(truth)
        found_total += len(found)
        spans_exact += len(exact)
        item_exact = len(exact) == len(truth) == len(found)
        items_exact += item_exact
        for span in truth:
            match = next((f for f in found if f.first_line <= span.last_line and span.first_line <= f.last_line), None)
            if span.language and match:
                labelled_blocks += 1
                blocks_labelled_right += match.language == span.language

        suggestions = suggest([{"role": "user", "content": text}])
        confident = {s.language for s in suggestions if s.confidence >= CONFIDENT}
        wanted = set(label["languages"])
        confident_hits += len(confident & wanted)
        confident_total += len(confident)
        true_languages += len(wanted)
        confident_sets_exact += confident == wanted
        top = suggestions[0].language if suggestions and suggestions[0].language != "general" else None
        if top:
            top_total += 1
            top_hits += top in wanted
        if not item_exact or confident != wanted:
            misses.append({"question_id": label["question_id"],
                           "true": [(t.first_line, t.last_line) for t in truth],
                           "found": [(f.first_line, f.last_line) for f in found],
                           "languages": sorted(wanted), "confident": sorted(confident), "top": top})
    return {
        "items": len(items),
        "line_agreement": _ratio(lines_agreeing, lines_total),  # non-blank lines, code or prose as labelled
        "line_agreement_per_item": _ratio(sum(item_agreements), len(item_agreements)),
        "spans": true_spans,
        "span_recall_exact": _ratio(spans_exact, true_spans),
        "span_precision_exact": _ratio(spans_exact, found_total),
        "items_exact": _ratio(items_exact, len(items)),
        "block_language_accuracy": _ratio(blocks_labelled_right, labelled_blocks),
        "confident_precision": _ratio(confident_hits, confident_total),
        "confident_recall": _ratio(confident_hits, true_languages),
        "confident_set_exact": _ratio(confident_sets_exact, len(items)),
        "top_precision": _ratio(top_hits, top_total),
        "top_recall": _ratio(top_hits, true_languages),  # one top suggestion covers one language at most
        "misses": misses,
    }


_FENCE_LINE = re.compile(r"^\s*(`{3,}|~{3,})\s*([A-Za-z0-9+#._-]*)")


def defenced(text: str) -> tuple[str, list[dict]]:
    """The text with its fence lines removed, and the spans its fenced code now takes (labels' shape),
    each with the fence tag's language (json for JSON)."""
    lines, kept, spans = text.splitlines(), [], []
    index = 0
    while index < len(lines):
        opening = _FENCE_LINE.match(lines[index])
        if not opening:
            kept.append(lines[index])
            index += 1
            continue
        close = re.compile(r"^\s*" + re.escape(opening.group(1)) + r"\s*$")
        end = next((n for n in range(index + 1, len(lines)) if close.match(lines[n])), len(lines))
        body = lines[index + 1:end]
        filled = [n for n, line in enumerate(body) if line.strip()]
        if filled:
            tag = opening.group(2)
            language = "json" if tag.lower() == "json" else label_for(tag) if tag else None
            spans.append({"first_line": len(kept) + filled[0], "last_line": len(kept) + filled[-1],
                          "language": language})
        kept.extend(body)
        index = end + 1
    return "\n".join(kept), spans


def defenced_answers(answers: Path) -> tuple[dict[str, str], list[dict]]:
    """Texts and labels from model answers (Arena-Hard's answer file shape) that fence code of a named
    language; the item's languages are its fence tags'."""
    texts, labels = {}, []
    with answers.open(encoding="utf-8") as handle:
        for row in (json.loads(line) for line in handle if line.strip()):
            text, spans = defenced(row["choices"][0]["turns"][0]["content"])
            languages = sorted({s["language"] for s in spans if s["language"] and s["language"] != "json"})
            if languages:
                texts[row["question_id"]] = text
                labels.append({"question_id": row["question_id"], "spans": spans, "languages": languages})
    return texts, labels


def read_texts(questions: Path) -> dict[str, str]:
    """question id -> first user turn, from an Arena-Hard style question.jsonl."""
    with questions.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return {row["question_id"]: row["turns"][0]["content"] for row in rows}


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    labels = json.loads(Path(argv[1]).read_text(encoding="utf-8"))["items"]
    report = {"hand_labelled": measure(read_texts(Path(argv[0])), labels)}
    if len(argv) == 3:
        report["defenced_answers"] = measure(*defenced_answers(Path(argv[2])))
    for figures in report.values():
        figures["misses"] = len(figures["misses"])
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
