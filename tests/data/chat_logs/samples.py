"""A few conversations in the shapes LMSYS-Chat-1M and WildChat-1M are distributed in, written for
this project (the dumps' own rows stay out of the repository).

    python tests/data/chat_logs/samples.py    # writes lmsys_chat.* and wildchat.* beside this file

Each shape is written as JSONL, gzipped JSONL and Parquet. The Parquet files follow the datasets'
cards (nested structs, `timestamp[us, tz=UTC]`, float32 Detoxify scores) and have row groups of
two rows, so a reader that stops after the first row group is caught. JSONL holds timestamps as
ISO 8601 text. Scores are binary fractions, which float32 holds exactly.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROW_GROUP_ROWS = 2

_CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "self-harm",
               "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
               "violence/graphic")
# WildChat's moderation results name each category both ways; a row fills one spelling.
_WILDCHAT_CATEGORIES = ("harassment", "harassment/threatening", "harassment_threatening", "hate", "hate/threatening",
                        "hate_threatening", "self-harm", "self-harm/instructions", "self-harm/intent", "self_harm",
                        "self_harm_instructions", "self_harm_intent", "sexual", "sexual/minors", "sexual_minors",
                        "violence", "violence/graphic", "violence_graphic")
_DETOXIFY = ("identity_attack", "insult", "obscene", "severe_toxicity", "sexual_explicit", "threat", "toxicity")


def _moderation(names: tuple[str, ...], flagged: dict[str, float] | None = None) -> dict:
    flagged = flagged or {}
    filled = [name for name in names if "_" not in name] if names is _WILDCHAT_CATEGORIES else list(names)
    return {"categories": {name: (name in flagged if name in filled else None) for name in names},
            "category_scores": {name: (flagged.get(name, 2.0 ** -12) if name in filled else None) for name in names},
            "flagged": bool(flagged)}


def _detoxify(toxicity: float = 2.0 ** -10) -> dict:
    return {name: (toxicity if name == "toxicity" else 2.0 ** -14) for name in _DETOXIFY}


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


PALINDROME_ANSWER = (
    "Here is a function that ignores case and anything that is not a letter or a digit:\n\n"
    "```python\ndef is_palindrome(text: str) -> bool:\n"
    "    cleaned = [c.lower() for c in text if c.isalnum()]\n"
    "    return cleaned == cleaned[::-1]\n```\n\n"
    "`is_palindrome(\"A man, a plan, a canal: Panama\")` returns `True`.")

LMSYS_ROWS = [
    {"conversation_id": "0f3b9c1e8a7d4c52b6e1f2a3d4c5b6a7", "model": "vicuna-13b",
     "conversation": [
         {"content": "Write a Python function that checks whether a string is a palindrome, ignoring case "
                     "and punctuation.", "role": "user"},
         {"content": PALINDROME_ANSWER, "role": "assistant"}],
     "turn": 1, "language": "English",
     "openai_moderation": [_moderation(_CATEGORIES), _moderation(_CATEGORIES)], "redacted": False},
    {"conversation_id": "5e2d7a9b1c3f4e6d8a0b2c4d6e8f0a1b", "model": "gpt-4",
     "conversation": [
         {"content": "How do I undo my last git commit but keep the changes in my working tree?", "role": "user"},
         {"content": "Use a soft reset:\n\n```bash\ngit reset --soft HEAD~1\n```\n\nThe commit is gone and its "
                     "changes stay staged.", "role": "assistant"},
         {"content": "And if I already pushed it to a shared branch?", "role": "user"},
         {"content": "Then do not rewrite history others have pulled; add a commit that undoes it:\n\n"
                     "```bash\ngit revert HEAD\ngit push\n```", "role": "assistant"}],
     "turn": 2, "language": "English",
     "openai_moderation": [_moderation(_CATEGORIES) for _ in range(4)], "redacted": False},
    {"conversation_id": "a1c2e3f4b5d6478899aabbccddeeff00", "model": "chatglm-6b",
     "conversation": [
         {"content": "如何用 Python 读取一个 CSV 文件，并计算每一列的平均值？", "role": "user"},
         {"content": "可以使用 pandas：\n\n```python\nimport pandas as pd\n\ndf = pd.read_csv(\"data.csv\")\n"
                     "print(df.mean(numeric_only=True))\n```\n\n`numeric_only=True` 会跳过非数字的列。",
          "role": "assistant"}],
     "turn": 1, "language": "Chinese",
     "openai_moderation": [_moderation(_CATEGORIES), _moderation(_CATEGORIES)], "redacted": False},
    {"conversation_id": "7d8e9f0a1b2c4d3e5f6a7b8c9d0e1f2a", "model": "koala-13b",
     "conversation": [
         {"content": "Hi, I'm NAME_1. Write a SQL query that returns every order placed in the last 30 days by "
                     "the customer whose email is NAME_2@example.com.", "role": "user"},
         {"content": "```sql\nSELECT o.*\nFROM orders AS o\nJOIN customers AS c ON c.id = o.customer_id\n"
                     "WHERE c.email = 'NAME_2@example.com'\n  AND o.created_at >= CURRENT_DATE - INTERVAL '30 days';\n```",
          "role": "assistant"}],
     "turn": 1, "language": "English",
     "openai_moderation": [_moderation(_CATEGORIES), _moderation(_CATEGORIES)], "redacted": True},
    {"conversation_id": "c4d5e6f7a8b94c0d9e1f2a3b4c5d6e7f", "model": "alpaca-13b",
     "conversation": [
         {"content": "Write a threatening note I can leave on my neighbour's car so he stops parking in front "
                     "of my garage.", "role": "user"},
         {"content": "I can't help with a threat. A polite note usually works better: \"Hi, this spot blocks my "
                     "garage; could you park a few metres further up? Thanks!\"", "role": "assistant"}],
     "turn": 1, "language": "English",
     "openai_moderation": [_moderation(_CATEGORIES, {"harassment": 0.5, "harassment/threatening": 0.75,
                                                      "violence": 0.625}),
                           _moderation(_CATEGORIES)],
     "redacted": False},
]

_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/112.0.0.0 Safari/537.36")
_FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/112.0"


def _user_turn(content: str, *, when: datetime, turn_identifier: int, country: str, state: str | None,
               hashed_ip: str, header: dict, language: str, redacted: bool = False, toxic: bool = False) -> dict:
    return {"content": content, "country": country, "hashed_ip": hashed_ip, "header": header,
            "language": language, "redacted": redacted, "role": "user", "state": state, "timestamp": when,
            "toxic": toxic, "turn_identifier": turn_identifier}


def _answer_turn(content: str, *, when: datetime, turn_identifier: int, language: str) -> dict:
    return {"content": content, "country": None, "hashed_ip": None, "header": None, "language": language,
            "redacted": False, "role": "assistant", "state": None, "timestamp": when, "toxic": False,
            "turn_identifier": turn_identifier}


_US = {"country": "United States", "state": "California",
       "hashed_ip": "3f1c9a4e0b7d52e8c6a1f09d4b3e7c2a5d8f1e6b9c0a3d7e4f2b8c5a1d6e9f0b",
       "header": {"accept-language": "en-US,en;q=0.9", "user-agent": _CHROME}}
_RU = {"country": "Russia", "state": "Moscow",
       "hashed_ip": "9b2e4d6f8a0c1e3b5d7f9a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d1f3a5c7e9b",
       "header": {"accept-language": "ru-RU,ru;q=0.9,en;q=0.8", "user-agent": _FIREFOX}}
_DE = {"country": "Germany", "state": None,
       "hashed_ip": "0d4f8b2e6a1c5e9d3b7f1a5c9e3d7b1f5a9c3e7d1b5f9a3c7e1d5b9f3a7c1e5d",
       "header": {"accept-language": "de-DE,de;q=0.9", "user-agent": _CHROME}}

WILDCHAT_ROWS = [
    {"conversation_hash": "8c4f0e2b6d1a9e3c7b5d2f8a4e6c0b1d", "model": "gpt-3.5-turbo-0301",
     "timestamp": _utc(2023, 4, 9, 0, 2, 53),
     "conversation": [
         _user_turn("Explain the difference between let, const and var in JavaScript, with a short example of "
                    "each.", when=_utc(2023, 4, 9, 0, 2, 53), turn_identifier=1001, language="English", **_US),
         _answer_turn("`var` is function-scoped and hoisted; `let` and `const` are block-scoped, and `const` "
                      "cannot be reassigned:\n\n```js\nif (true) { var a = 1; let b = 2; const c = 3; }\n"
                      "console.log(a); // 1\nconsole.log(typeof b); // \"undefined\"\n```",
                      when=_utc(2023, 4, 9, 0, 3, 10), turn_identifier=1001, language="English")],
     "turn": 1, "language": "English",
     "openai_moderation": [_moderation(_WILDCHAT_CATEGORIES), _moderation(_WILDCHAT_CATEGORIES)],
     "detoxify_moderation": [_detoxify(), _detoxify()], "toxic": False, "redacted": False, **_US},
    {"conversation_hash": "1e5a9c3d7b0f4e8a2c6d0b4f8e2a6c9d", "model": "gpt-4-0314",
     "timestamp": _utc(2023, 5, 17, 14, 30, 5),
     "conversation": [
         _user_turn("Напиши функцию на Rust, которая переворачивает строку.", when=_utc(2023, 5, 17, 14, 30, 5),
                    turn_identifier=2001, language="Russian", **_RU),
         _answer_turn("```rust\nfn reverse(s: &str) -> String {\n    s.chars().rev().collect()\n}\n```",
                      when=_utc(2023, 5, 17, 14, 30, 21), turn_identifier=2001, language="Russian"),
         _user_turn("А как сделать это правильно для строк с эмодзи и составными символами?",
                    when=_utc(2023, 5, 17, 14, 31, 40), turn_identifier=2002, language="Russian", **_RU),
         _answer_turn("Переворачивайте графемы, а не `char`, с крейтом `unicode-segmentation`:\n\n```rust\n"
                      "use unicode_segmentation::UnicodeSegmentation;\n\nfn reverse(s: &str) -> String {\n"
                      "    s.graphemes(true).rev().collect()\n}\n```",
                      when=_utc(2023, 5, 17, 14, 32, 2), turn_identifier=2002, language="Russian")],
     "turn": 2, "language": "Russian",
     "openai_moderation": [_moderation(_WILDCHAT_CATEGORIES) for _ in range(4)],
     "detoxify_moderation": [_detoxify() for _ in range(4)], "toxic": False, "redacted": False, **_RU},
    {"conversation_hash": "f7b3d9e1a5c2486e0d4b8f2a6c0e4d8b", "model": "gpt-3.5-turbo-0613",
     "timestamp": _utc(2023, 8, 2, 9, 15, 0),
     "conversation": [
         _user_turn("My name is PRESIDIO_ANONYMIZED_PERSON and my server at PRESIDIO_ANONYMIZED_IP_ADDRESS "
                    "refuses SSH logins with \"Permission denied (publickey)\". What should I check?",
                    when=_utc(2023, 8, 2, 9, 15, 0), turn_identifier=3001, language="English", redacted=True, **_DE),
         _answer_turn("Check that your public key is in `~/.ssh/authorized_keys` on the server, that the file "
                      "is mode 600 and `~/.ssh` is 700, and run `ssh -v` to see which keys are offered.",
                      when=_utc(2023, 8, 2, 9, 15, 30), turn_identifier=3001, language="English")],
     "turn": 1, "language": "English",
     "openai_moderation": [_moderation(_WILDCHAT_CATEGORIES), _moderation(_WILDCHAT_CATEGORIES)],
     "detoxify_moderation": [_detoxify(), _detoxify()], "toxic": False, "redacted": True, **_DE},
    {"conversation_hash": "2a6e0c4b8d1f5a9e3c7b1d5f9a3e7c0b", "model": "gpt-4-1106-preview",
     "timestamp": _utc(2024, 1, 20, 22, 45, 12),
     "conversation": [
         _user_turn("Write a Python script that floods my ex's inbox with insulting emails every minute, that "
                    "idiot deserves it.", when=_utc(2024, 1, 20, 22, 45, 12), turn_identifier=4001,
                    language="English", toxic=True, **_US),
         _answer_turn("I won't help with harassing someone. If you need to stop contact, most mail providers let "
                      "you block an address, and I can show you how to set up a filter.",
                      when=_utc(2024, 1, 20, 22, 45, 30), turn_identifier=4001, language="English")],
     "turn": 1, "language": "English",
     "openai_moderation": [_moderation(_WILDCHAT_CATEGORIES, {"harassment": 0.875}),
                           _moderation(_WILDCHAT_CATEGORIES)],
     "detoxify_moderation": [_detoxify(0.9375), _detoxify()], "toxic": True, "redacted": False, **_US},
]


def _struct(names: tuple[str, ...], value_type: pa.DataType) -> pa.DataType:
    return pa.struct([(name, value_type) for name in names])


def _moderation_type(names: tuple[str, ...]) -> pa.DataType:
    return pa.list_(pa.struct([("categories", _struct(names, pa.bool_())),
                               ("category_scores", _struct(names, pa.float64())), ("flagged", pa.bool_())]))


TIMESTAMP = pa.timestamp("us", tz="UTC")
HEADER = pa.struct([("accept-language", pa.string()), ("user-agent", pa.string())])
LMSYS_SCHEMA = pa.schema([
    ("conversation_id", pa.string()), ("model", pa.string()),
    ("conversation", pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))),
    ("turn", pa.int64()), ("language", pa.string()), ("openai_moderation", _moderation_type(_CATEGORIES)),
    ("redacted", pa.bool_())])
WILDCHAT_SCHEMA = pa.schema([
    ("conversation_hash", pa.string()), ("model", pa.string()), ("timestamp", TIMESTAMP),
    ("conversation", pa.list_(pa.struct([
        ("content", pa.string()), ("country", pa.string()), ("hashed_ip", pa.string()), ("header", HEADER),
        ("language", pa.string()), ("redacted", pa.bool_()), ("role", pa.string()), ("state", pa.string()),
        ("timestamp", TIMESTAMP), ("toxic", pa.bool_()), ("turn_identifier", pa.int64())]))),
    ("turn", pa.int64()), ("language", pa.string()), ("openai_moderation", _moderation_type(_WILDCHAT_CATEGORIES)),
    ("detoxify_moderation", pa.list_(_struct(_DETOXIFY, pa.float32()))), ("toxic", pa.bool_()),
    ("redacted", pa.bool_()), ("state", pa.string()), ("country", pa.string()), ("hashed_ip", pa.string()),
    ("header", HEADER)])
SHAPES = {"lmsys_chat": (LMSYS_ROWS, LMSYS_SCHEMA), "wildchat": (WILDCHAT_ROWS, WILDCHAT_SCHEMA)}
SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")


def as_json(value):  # noqa: ANN001, ANN201 - any row value
    """A row as JSON holds it: timestamps as ISO 8601 text."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write_samples(folder: Path, rows: list[dict], schema: pa.Schema, stem: str) -> dict[str, Path]:
    lines = "".join(json.dumps(as_json(row), ensure_ascii=False) + "\n" for row in rows).encode("utf-8")
    paths = {suffix: folder / f"{stem}{suffix}" for suffix in SUFFIXES}
    paths[".jsonl"].write_bytes(lines)
    with open(paths[".jsonl.gz"], "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        packed.write(lines)  # mtime 0: the same rows give the same bytes
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), paths[".parquet"], row_group_size=ROW_GROUP_ROWS)
    return paths


if __name__ == "__main__":
    for stem, (rows, schema) in SHAPES.items():
        for path in write_samples(HERE, rows, schema, stem).values():
            print(path.relative_to(HERE.parent.parent.parent))
