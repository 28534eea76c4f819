"""Secrets and personal data: credentials, e-mail addresses and phone numbers, with their spans.

Regular expressions for the common credential formats, e-mail addresses and phone numbers,
tuned to stay quiet on ordinary coding questions (placeholders, versions, dates, IPs).
"""

from __future__ import annotations

import re

# Values that stand in for a secret rather than being one: what tutorials, docs and users
# type when they do not want to paste the real thing.
_PLACEHOLDER_WORDS = frozenset("""
    password passwd pass pwd secret token apikey api_key key changeme change_me admin root user
    username test testing example sample dummy placeholder redacted hidden none null undefined
    foobar foo bar baz qwerty letmein default mysecret mypassword yourpassword secretkey
""".split())
_PLACEHOLDER_MARKERS = ("your", "example", "placeholder", "xxx", "***", "...", "<", ">", "{", "}",
                        "$", "%", "redacted", "dummy", "fake", "sample", "insert", "replace",
                        "enter", "todo", "here", "changeme", "change_me", "my_", "my-", "env[",
                        "getenv", "secret_key_base")


def _is_placeholder(value: str) -> bool:
    lowered = value.lower()
    return (len(set(lowered)) <= 2  # "******", "xxxxxx", "aaaaaa", "121212"
            or lowered.strip("_-.") in _PLACEHOLDER_WORDS
            or any(marker in lowered for marker in _PLACEHOLDER_MARKERS)
            # a short single word or number ("dragon", "123456") is an example more often than not
            or (len(lowered) < 8 and re.fullmatch(r"[a-z]+|\d+", lowered) is not None)
            or lowered in ("1234567890", "abcdefgh"))


def _looks_random(value: str) -> bool:
    """A key-like value mixes character classes, as generated keys do and words do not."""
    classes = (any(c.islower() for c in value) + any(c.isupper() for c in value)
               + any(c.isdigit() for c in value))
    return classes >= 2 and len(set(value)) >= 8


_SECRET_KEYWORD = (r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|"
                   r"access[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key)")

# (kind, hints, pattern, group holding the secret). A pattern only runs when one of its hints
# (plain substrings, looked up in the lower-cased text) occurs: most queries hold none, and a
# substring test is far cheaper than a regular expression that starts with a look-behind.
# Order = priority when two findings overlap: specific formats first, the generic assignment
# and personal data last.
_SECRET_PATTERNS: list[tuple[str, tuple[str, ...], re.Pattern[str], int]] = [
    ("private_key", ("private key",), re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,-]*)"), 0),
    ("aws_access_key_id", ("akia", "asia"),
     re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), 0),
    ("aws_secret_access_key", ("secret",), re.compile(
        r"(?i:aws[ _]?secret(?:[ _]?access)?(?:[ _]?key)?|secret[ _]?access[ _]?key)[^\n]{0,30}?"
        r"(?<![A-Za-z0-9/+=])([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"), 1),
    ("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), re.compile(
        r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"
        r"(?![A-Za-z0-9_])"), 0),
    ("slack_token", ("xox",), re.compile(r"(?<![A-Za-z0-9-])xox[abprs]-[A-Za-z0-9-]{10,250}"), 0),
    ("stripe_key", ("_live_",),
     re.compile(r"(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{16,247}(?![A-Za-z0-9])"), 0),
    ("anthropic_key", ("sk-ant-",), re.compile(r"(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,}"), 0),
    ("openai_key", ("sk-",),
     re.compile(r"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"), 0),
    ("google_api_key", ("aiza",),
     re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), 0),
    ("jwt", ("eyj",), re.compile(
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), 0),
    ("password_in_url", ("://",), re.compile(
        r"\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@]{1,100}:([^\s/@]{1,200})@[a-z0-9.-]+", re.IGNORECASE), 1),
    # The key may sit inside a longer name (DB_PASSWORD, client_secret, apiKey) but must end the
    # name: "tokenizer = ..." and "token_type = ..." are not secrets.
    ("password_assignment", ("pass", "pwd", "secret", "token", "key"), re.compile(
        r"(?i)" + _SECRET_KEYWORD + r"(?:[_-]?(?:key|id|value|str))?[\"']?\]?"
        r"\s*(?::=|=>|==?|:)\s*[fbru]?([\"'])((?:(?!\1)[^\\\s]|\\.){1,200})\1"), 2),
    ("email", ("@",), re.compile(
        r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
        r"[A-Za-z]{2,24}\b(?!\.?\w)"), 0),
    ("phone", ("",), re.compile(
        r"(?<![\w+.\-/:])(?:"
        r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{2,5}){2,5}"                  # +44 20 7946 0958
        r"|\(\d{3}\)\s?\d{3}[ .-]\d{4}"                                            # (415) 555-2671
        r"|[2-9]\d{2}([ .-])[2-9]\d{2}\1\d{4}"                                    # 415-555-2671
        r"|0\d{1,4}(?:[ /-]\d{2,8}){1,4}"                                          # 020 7946 0958
        r")(?!\w|[.\-/:]\d)"), 0),
]

_EXAMPLE_DOMAINS = re.compile(
    r"@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|test|invalid|localhost|domain\.com|"
    r"yourdomain\.\w+|company\.com|acme\.com|foo\.\w+|bar\.\w+)$", re.IGNORECASE)


def _keep(kind: str, match: re.Match[str], group: int) -> bool:
    """Filters that a regular expression expresses badly: placeholders, non-personal addresses,
    numbers that only look like phone numbers."""
    value = match.group(group)
    if kind == "aws_access_key_id":
        return "EXAMPLE" not in value  # AWS's documentation keys end in EXAMPLE
    if kind == "aws_secret_access_key":
        return "EXAMPLE" not in value and _looks_random(value)
    if kind in ("openai_key", "anthropic_key"):
        body = value.split("-", 2)[-1] if kind == "anthropic_key" else value[3:]
        return _looks_random(body.replace("-", "").replace("_", "")) and not _is_placeholder(value)
    if kind == "password_in_url":
        return len(value) >= 6 and not _is_placeholder(value)
    if kind == "password_assignment":
        # lower-case words joined by separators read as a name, path or MIME type
        # ("bert-base-uncased", "application/json"), not as a generated or chosen secret
        return (len(value) >= 6 and not _is_placeholder(value)
                and re.fullmatch(r"[a-z]+(?:[./_-][a-z]+)+", value.lower()) is None)
    if kind == "private_key":
        body = re.sub(r"-----[^-]+-----|\s", "", value)
        return len(body) >= 64 and not _is_placeholder(body[:40])  # not "...", not "<key>"
    if kind == "email":
        local = value.split("@", 1)[0].lower()
        return not _EXAMPLE_DOMAINS.search(value) and local not in ("git", "noreply", "no-reply")
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        if not 9 <= len(digits) <= 15 or len(set(digits)) <= 2:
            return False
        if digits in "01234567890123456789" or digits in "98765432109876543210":
            return False  # 123-456-7890 style sample numbers
        if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", value):
            return False  # an IPv4 address
        if re.fullmatch(r"0\d{3}[ /-]\d{2}[ /-]\d{2}", value) or re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value):
            return False  # a date
        return True
    return True


def find_secrets(text: str) -> list[dict]:
    """Likely credentials and personal data in ``text``: [{"kind", "span": [start, end], "text"}]
    sorted by start; ``text[start:end]`` is exactly the finding's text.

    The span covers what a lead would redact: the key or token itself; for a password in a URL
    or an assignment, the password only; for a private key the whole BEGIN...END block.
    Placeholders are not flagged, on purpose (false alarms on tutorials would bury the real
    leaks): passwords of fewer than 6 characters, one or two repeated characters ("******"),
    stand-in words ("password", "changeme", "secret", "admin"), a single word or number under
    8 characters ("dragon", "123456"), anything with "your", "example", "xxx", "<...>",
    "{...}", "$VAR", "here" and the like in it, lower-case words joined by separators
    ("bert-base-uncased"); AWS's documented EXAMPLE keys; e-mail at example.com / test /
    localhost and git@ addresses; phone-like numbers that are really dates, IP addresses,
    versions or 123-456-7890 samples. Only quoted values count as password assignments
    (``password = get_password()`` is code, not a secret). When findings overlap, the more
    specific kind wins (a GitHub token in ``token = "..."`` is a github_token).
    """
    found: list[tuple[int, int, int, str]] = []  # (start, end, priority, kind)
    lowered = text.lower()
    for priority, (kind, hints, pattern, group) in enumerate(_SECRET_PATTERNS):
        if not any(hint in lowered for hint in hints):
            continue
        for match in pattern.finditer(text):
            if match.group(group) and _keep(kind, match, group):
                found.append((match.start(group), match.end(group), priority, kind))
    kept: list[tuple[int, int, int, str]] = []
    for start, end, priority, kind in sorted(found, key=lambda f: (f[2], f[0])):
        if all(end <= other_start or start >= other_end for other_start, other_end, _, _ in kept):
            kept.append((start, end, priority, kind))
    kept.sort()
    return [{"kind": kind, "span": [start, end], "text": text[start:end]} for start, end, _, kind in kept]
