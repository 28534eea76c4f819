"""The text around a triage hit, so a lead can judge it where it is listed: a secret or personal
datum masked inside its sentence, a benchmark overlap inside the query, and where two
near-duplicates differ. Plain functions over plain strings.
"""

from __future__ import annotations

import difflib
import re

CONTEXT_CHARACTERS = 80  # on each side of a hit: a line or two, enough to see what the value is for
MASK = "•"
_SHOWN_PREFIX = 4  # "AKIA", "ghp_", "sk-a": the kind of key, not the key
_PREFIX_SHOWN_FROM = 16
# Kinds whose first characters are a fixed marker of the format; any other kind (a password, an
# AWS secret key) shows no character of its value at all.
_MARKED_KINDS = frozenset({"aws_access_key_id", "github_token", "slack_token", "stripe_key", "anthropic_key",
                           "openai_key", "google_api_key", "jwt"})
_MAX_DIFFERENCES = 3
_WORD = re.compile(r"\S+")


def mask_secret(value: str, kind: str) -> str:
    """A finding made unreadable but recognisable: its length, and for keys of a marked format
    the few characters that name the format ("AKIA"); for an e-mail address, the domain; for a
    private key, its BEGIN line."""
    if kind == "email" and "@" in value:
        local, domain = value.split("@", 1)
        return f"{MASK * min(len(local), 6)}@{domain}"
    shown = value[:_SHOWN_PREFIX] if kind in _MARKED_KINDS and len(value) >= _PREFIX_SHOWN_FROM else ""
    if kind == "private_key":
        first_line = value.split("\n", 1)[0]
        shown = first_line if first_line.startswith("-----BEGIN") else ""
    return f"{shown}{MASK * 8} ({len(value)} characters)"


def _cut_before(text: str, start: int, width: int) -> str:
    """Up to `width` characters before `start`, starting at a word boundary, with "…" when cut."""
    begin = max(0, start - width)
    if begin > 0:
        space = text.find(" ", begin, start)
        begin = space + 1 if space != -1 else begin
    return ("…" if begin > 0 else "") + text[begin:start]


def _cut_after(text: str, end: int, width: int) -> str:
    stop = min(len(text), end + width)
    if stop < len(text):
        space = text.rfind(" ", end, stop)
        stop = space if space != -1 else stop
    return text[end:stop] + ("…" if stop < len(text) else "")


def _masked(text: str, hits: list[dict]) -> tuple[str, list[tuple[int, int, int]]]:
    """The text with every hit replaced by its mask, and where each hit's mask now sits
    (index in hits, start, end), so context around one hit never shows another in full."""
    pieces, positions, cursor, length = [], [], 0, 0
    for index, hit in sorted(enumerate(hits), key=lambda pair: pair[1]["span"][0]):
        start, end = hit["span"]
        if start < cursor or end > len(text):
            continue  # overlapping or stale span: skipped here, the text is masked by the others
        pieces.append(text[cursor:start])
        length += start - cursor
        mask = mask_secret(text[start:end], hit["kind"])
        pieces.append(mask)
        positions.append((index, length, length + len(mask)))
        length += len(mask)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces), positions


def masked_text(text: str, hits: list[dict]) -> str:
    """The text with each of these findings masked (for showing a flagged query anywhere)."""
    return _masked(text, hits)[0]


def secret_contexts(text: str, hits: list[dict], *, width: int = CONTEXT_CHARACTERS) -> list[dict]:
    """Each finding of `find_secrets` in its surroundings, masked: [{"kind", "span", "before",
    "masked", "after"}] in the order of `hits`. Every finding inside the surroundings is masked
    too; a span that no longer fits the text (it was edited) gives "masked" None."""
    masked_text, positions = _masked(text, hits)
    by_index = {index: (start, end) for index, start, end in positions}
    contexts = []
    for index, hit in enumerate(hits):
        found = by_index.get(index)
        entry = {"kind": hit["kind"], "span": list(hit["span"]), "before": "", "masked": None, "after": ""}
        if found:
            start, end = found
            entry.update(before=_cut_before(masked_text, start, width), masked=masked_text[start:end],
                         after=_cut_after(masked_text, end, width))
        contexts.append(entry)
    return contexts


def overlap_context(text: str, evidence: str, *, width: int = CONTEXT_CHARACTERS) -> dict:
    """Where a benchmark's words occur in the query: {"before", "overlap", "after", "found"}.
    The evidence is looked up as written, then word by word ignoring case, spacing and
    punctuation; not found, it is returned on its own with "found" False."""
    start = text.find(evidence) if evidence else -1
    end = start + len(evidence)
    if start == -1 and evidence.strip():
        words = list(_WORD.finditer(text))
        wanted = [_bare(w) for w in evidence.split() if _bare(w)]
        bare = [_bare(match.group(0)) for match in words]
        for position in range(len(bare) - len(wanted) + 1):
            if wanted and bare[position:position + len(wanted)] == wanted:
                start, end = words[position].start(), words[position + len(wanted) - 1].end()
                break
    if start == -1:
        return {"before": "", "overlap": evidence, "after": "", "found": False}
    return {"before": _cut_before(text, start, width), "overlap": text[start:end],
            "after": _cut_after(text, end, width), "found": True}


def _bare(word: str) -> str:
    return re.sub(r"[^\w]", "", word.lower())


def differences(reference: str, other: str, *, words_around: int = 6, limit: int = _MAX_DIFFERENCES) -> dict:
    """How a near-duplicate differs from the query it duplicates, word by word: {"similarity"
    (share of words in common, 0 to 1), "differences": [{"before", "reference", "other",
    "after"}] (the first `limit` changed passages with a few words on each side), "more"
    (how many changed passages were left out)}."""
    ours, theirs = reference.split(), other.split()
    matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
    changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    found = []
    for _tag, a_start, a_end, b_start, b_end in changed[:limit]:
        found.append({"before": " ".join(ours[max(0, a_start - words_around):a_start]),
                      "reference": " ".join(ours[a_start:a_end]), "other": " ".join(theirs[b_start:b_end]),
                      "after": " ".join(ours[a_end:a_end + words_around])})
    return {"similarity": round(matcher.ratio(), 3), "differences": found, "more": max(0, len(changed) - limit)}
