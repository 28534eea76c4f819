"""Stream records out of JSONL, JSON, CSV and Parquet files, each with where it came from.

A reader never stops at a bad row: it yields the problem with its line or row number so the
importer can list every problem in one go. Files are read as bytes and decoded line by line, so
a stray invalid byte names its line instead of failing the whole file with an offset.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import gzip
import hashlib
import io
import json
import math
import os
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from curation_app.core.errors import InvalidInput
from curation_app.core.limits import excerpt

FORMATS = ("jsonl", "json", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
             ".parquet": "parquet", ".pq": "parquet"}
# Keys under which a JSON document commonly wraps its list of records.
_JSON_LIST_KEYS = ("data", "rows", "records", "items", "queries", "questions", "examples")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class RowProblem(ValueError):
    """What is wrong with one record; the importer adds where it is."""


@dataclass(frozen=True)
class RawRecord:
    location: str  # "line 12", "row 3 (line 4)", "item 7"
    record: dict | None
    problem: str | None = None
    rest_unread: bool = False  # the problem stopped reading: nothing after it was read


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    with _open_binary(path) as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl"
    return "csv"


# A record's line is at most this long (a query is at most a million characters); a longer one is
# skipped without being held in memory.
MAX_LINE_BYTES = 64 * 1024 * 1024
# A .gz file that expands to more than this many times its size (and past MAX_LINE_BYTES) is refused:
# real JSONL and CSV compress 3 to 20 times; a tiny file expanding to gigabytes is a trap.
MAX_GZIP_EXPANSION = 200


class LineTooLong(bytes):
    """A line cut at MAX_LINE_BYTES: its reader reports it and goes on with the next line."""


class _Guarded:
    """A file opened for reading whose decompression is bounded and whose gzip errors are one-line
    reasons naming the file."""

    def __init__(self, path: Path):
        self.path = path
        self.gzipped = path.suffix.lower() == ".gz"
        self.handle = gzip.open(path, "rb") if self.gzipped else open(path, "rb")
        self.limit = max(MAX_LINE_BYTES, MAX_GZIP_EXPANSION * path.stat().st_size) if self.gzipped else None
        self.produced = 0

    def _counted(self, data: bytes) -> bytes:
        self.produced += len(data)
        if self.limit is not None and self.produced > self.limit:
            raise InvalidInput(f"{self.path.name}: expands to more than {self.limit:,} bytes, over "
                               f"{MAX_GZIP_EXPANSION} times its compressed size; refused, nothing imported")
        return data

    def _guard(self, read: Callable[[int], bytes], size: int) -> bytes:
        try:
            return self._counted(read(size))
        except (gzip.BadGzipFile, zlib.error) as error:
            raise InvalidInput(f"{self.path.name}: not a valid gzip file ({error}); nothing imported") from None
        except EOFError:
            raise InvalidInput(f"{self.path.name}: the gzip file is cut short (truncated); nothing imported") from None

    def read(self, size: int = -1) -> bytes:
        return self._guard(self.handle.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._guard(self.handle.readline, size)

    def lines(self) -> Iterator[bytes]:
        """Each line as bytes; a line longer than MAX_LINE_BYTES comes as LineTooLong (its start)."""
        while True:
            raw = self.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while True:  # the rest of the line, read and dropped
                    rest = self.readline(1 << 20)
                    if not rest or rest.endswith(b"\n"):
                        break
                yield LineTooLong(raw[:64])
                continue
            yield raw

    def __enter__(self) -> "_Guarded":
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def _line_limit() -> str:
    mb = MAX_LINE_BYTES / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{MAX_LINE_BYTES:,} bytes"


def _open_binary(path: Path) -> _Guarded:
    return _Guarded(path)




def _decode(raw: bytes, first: bool) -> tuple[str | None, str | None]:
    """The decoded line, or a problem naming the bad byte."""
    if first and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"


class NotPlainJson(ValueError):
    """JSON that parsers read differently, so importing it would change data without a word."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    record = {}
    for key, value in pairs:
        if key in record:
            raise NotPlainJson(f"the key {excerpt(key)} appears twice in one object (which value is meant?)")
        record[key] = value
    return record


def _no_constant(name: str) -> Any:
    raise NotPlainJson(f"{name} is not a JSON number (write it as a string or null)")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise NotPlainJson(f"the number {text[:40]} is too large for a float (write it as a string)")
    return number


def _exact_int(text: str) -> int:
    if len(text.lstrip("-")) > 4000:
        raise NotPlainJson(f"a number with {len(text.lstrip('-')):,} digits is too long (write it as a string)")
    return int(text)


# Exact integers of any size, no NaN or Infinity, no key given twice.
STRICT_JSON = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_int=_exact_int,
                               parse_float=_finite_float)
_LONG_DIGITS = re.compile(r"\d{16,}")  # a run of digits that a double may not hold exactly
_KEY_END = re.compile(r'"\s*:')


def _keys_in(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_keys_in(v) for v in value.values())
    if isinstance(value, list):
        return sum(_keys_in(v) for v in value)
    return 0


def parse_json_record(text: str) -> Any:
    """One JSON value, read by orjson (fast) unless the text may hold what orjson reads silently
    differently: a long integer (made a float), a key given twice (the last one kept); then, and
    for orjson's refusals, by the strict reader, which keeps integers exact and names the problem."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as refused:
        try:  # a NaN, an Infinity or a huge number gets its own reason; other errors keep orjson's
            return STRICT_JSON.decode(text)
        except json.JSONDecodeError:
            raise refused from None
    if _LONG_DIGITS.search(text) or len(_KEY_END.findall(text)) > _keys_in(value):
        return STRICT_JSON.decode(text)
    return value


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, NotPlainJson):
        return str(exc)
    if isinstance(exc, RecursionError) or "depth limit" in str(exc) or "recursion" in str(exc):
        return "invalid JSON: nested too deeply"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return f"invalid JSON: {exc}"


def read_jsonl(path: Path, on_progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle.lines(), start=1):
            if on_progress:
                on_progress(len(raw))
            location = f"line {number}"
            if isinstance(raw, LineTooLong):
                yield RawRecord(location, None, f"longer than {_line_limit()}")
                continue
            text, problem = _decode(raw, number == 1)
            if problem:
                yield RawRecord(location, None, problem)
                continue
            assert text is not None
            if not text.strip():
                continue
            try:
                value = parse_json_record(text)
            except (ValueError, RecursionError) as exc:
                yield RawRecord(location, None, _json_problem(exc))
                continue
            if not isinstance(value, dict):
                yield RawRecord(location, None, f"expected a JSON object, got {type_name(value)}")
                continue
            yield RawRecord(location, value)


def read_json(path: Path, on_progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    """A JSON array of objects is read element by element (a file of any size needs little memory);
    an object holding such a list under a usual key ("data", "rows", ...) is read whole."""
    with _open_binary(path) as handle:
        start = handle.read(_JSON_CHUNK_BYTES)
        if start.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":
            yield from _stream_json_array(handle, start, on_progress)
            return
        raw = start + handle.read()
    if on_progress:
        on_progress(len(raw))
    yield from _read_json_document(raw)


_JSON_CHUNK_BYTES = 1 << 20
_JSON_SPACE = " \t\r\n"


def _stream_json_array(handle: _Guarded, first: bytes,
                       on_progress: Callable[[int], None] | None) -> Iterator[RawRecord]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    parser = STRICT_JSON
    text, position, at_end = "", 0, False
    lines_dropped = 0  # newlines in the text already let go
    line_start_dropped = 0  # characters of the current line already let go
    pending: list[bytes] = [first]

    def read_more() -> None:
        nonlocal text, at_end
        chunk = pending.pop() if pending else handle.read(_JSON_CHUNK_BYTES)
        if on_progress and chunk:
            on_progress(len(chunk))
        try:
            text += decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            line = lines_dropped + text.count("\n") + chunk[:max(exc.start, 0)].count(b"\n") + 1
            raise _BadBytes(line) from None
        at_end = not chunk

    def where(offset: int) -> tuple[str, str]:
        line = lines_dropped + text.count("\n", 0, offset) + 1
        newline = text.rfind("\n", 0, offset)
        column = offset - newline if newline >= 0 else line_start_dropped + offset + 1
        return f"line {line}", f"column {column}"

    def stop(location: str, problem: str) -> RawRecord:
        return RawRecord(location, None, problem + "; the rest of the file was not read", rest_unread=True)

    def next_token() -> str | None:
        """The next character that is not white space (None at the end of the file)."""
        nonlocal position
        while True:
            while position < len(text) and text[position] in _JSON_SPACE:
                position += 1
            if position < len(text):
                return text[position]
            if at_end:
                return None
            read_more()

    try:
        read_more()
        next_token()
        position += 1  # the opening bracket
        number = 0
        while True:
            token = next_token()
            if token == "]" and number == 0:
                position += 1
                break
            if token is None:
                line, column = where(position)
                yield stop(line, f"invalid JSON: the array is never closed ({column})")
                return
            try:
                try:
                    value, end = parser.raw_decode(text, position)
                except NotPlainJson as exc:
                    line, _ = where(position)
                    yield stop(line, str(exc))
                    return
                if len(text) - end < 64 and not at_end:  # a number such as 0 may be 0.5 in the next chunk
                    raise json.JSONDecodeError("value may go on", text, end)
            except json.JSONDecodeError as exc:
                # Near the end of what is read so far (or in a string that runs past it), the value
                # may simply go on in the next chunk; anywhere else the error is real.
                cut_short = exc.msg.startswith("Unterminated string") or len(text) - exc.pos < 64
                if cut_short and not at_end:
                    if len(text) - position > MAX_LINE_BYTES:  # one record may not hold the whole file
                        yield stop(where(position)[0], f"a record longer than {_line_limit()}")
                        return
                    read_more()
                    continue
                line, column = where(exc.pos)
                yield stop(line, f"invalid JSON: {exc.msg} ({column})")
                return
            except RecursionError as exc:
                yield stop(where(position)[0], _json_problem(exc))
                return
            number += 1
            if isinstance(value, dict):
                yield RawRecord(f"item {number}", value)
            else:
                yield RawRecord(f"item {number}", None, f"expected a JSON object, got {type_name(value)}")
            position = end
            if position > _JSON_CHUNK_BYTES:  # what is read goes, so memory stays flat
                newline = text.rfind("\n", 0, position)
                lines_dropped += text.count("\n", 0, position)
                line_start_dropped = position - newline - 1 if newline >= 0 else line_start_dropped + position
                text, position = text[position:], 0
            token = next_token()
            if token == ",":
                position += 1
            elif token == "]":
                position += 1
                break
            else:
                line, column = where(position)
                problem = "the array is never closed" if token is None else \
                    f"expected ',' or ']' after item {number}, found {token!r}"
                yield stop(line, f"invalid JSON: {problem} ({column})")
                return
        if next_token() is not None:
            line, column = where(position)
            yield stop(line, f"invalid JSON: extra data after the array ({column})")
    except _BadBytes as bad:
        yield stop(f"line {bad.line}", "not valid UTF-8")


class _BadBytes(Exception):
    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


def _read_json_document(raw: bytes) -> Iterator[RawRecord]:
    text, problem = _decode(raw, True)
    if problem:
        bad_line = raw[: _first_bad_utf8_offset(raw)].count(b"\n") + 1
        yield RawRecord(f"line {bad_line}", None, "not valid UTF-8")
        return
    assert text is not None
    if not text.strip():
        return  # no records: the caller says the file is empty
    try:
        document = STRICT_JSON.decode(text)
    except NotPlainJson as exc:
        yield RawRecord("line 1", None, str(exc))
        return
    except json.JSONDecodeError as exc:
        yield RawRecord(f"line {exc.lineno}", None, f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    except RecursionError as exc:
        yield RawRecord("line 1", None, _json_problem(exc))
        return
    if isinstance(document, dict):
        for key in _JSON_LIST_KEYS:
            if isinstance(document.get(key), list):
                document = document[key]
                break
        else:
            document = [document]
    if not isinstance(document, list):
        yield RawRecord("line 1", None, f"expected a JSON array of objects, got {type_name(document)}")
        return
    for number, value in enumerate(document, start=1):
        if isinstance(value, dict):
            yield RawRecord(f"item {number}", value)
        else:
            yield RawRecord(f"item {number}", None, f"expected a JSON object, got {type_name(value)}")


def _first_bad_utf8_offset(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def read_csv(path: Path, on_progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    bad_lines: dict[int, str] = {}

    def decoded_lines(handle: _Guarded) -> Iterator[str]:
        for number, raw in enumerate(handle.lines(), start=1):
            if on_progress:
                on_progress(len(raw))
            if isinstance(raw, LineTooLong):
                bad_lines[number] = f"longer than {_line_limit()}"
                yield "-\n"  # a row in its place, so the problem is reported with the row
                continue
            text, problem = _decode(raw, number == 1)
            if problem:
                bad_lines[number] = problem
                text = raw.decode("utf-8", errors="replace")
            assert text is not None
            yield text  # a NUL in a cell is the field limits' to refuse (core/limits.py), naming the column

    with _open_binary(path) as handle:
        # strict: an unclosed quote is an error, not a cell that swallows the rest of the file.
        reader = csv.reader(decoded_lines(handle), strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord("line 1", None, f"malformed CSV header: {exc}")
            return
        if 1 in bad_lines:
            yield RawRecord("line 1 (header)", None, bad_lines[1])
            return
        names = [name.strip() for name in header]
        if len(set(names)) != len(names) or not all(names):
            yield RawRecord("line 1 (header)", None, "column names must be unique and not empty")
            return
        row_number = 0
        previous_line = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row_number += 1
                hint = " (a quote opened here is never closed?)" if "end of data" in str(exc) else ""
                yield RawRecord(f"row {row_number} (line {previous_line + 1})", None, f"malformed CSV: {exc}{hint}")
                previous_line = reader.line_num
                continue
            first_line, previous_line = previous_line + 1, reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue
            row_number += 1
            location = f"row {row_number} (line {first_line})"
            problems = [bad_lines[n] for n in range(first_line, reader.line_num + 1) if n in bad_lines]
            if problems:
                yield RawRecord(location, None, problems[0])
                continue
            if len(cells) != len(names):
                yield RawRecord(location, None, f"has {len(cells)} cells, the header has {len(names)} columns")
                continue
            # An empty cell is a missing value, as in a spreadsheet.
            yield RawRecord(location, {n: (c if c != "" else None) for n, c in zip(names, cells)})


# Rows decoded at a time. pyarrow's iter_batches over a whole file keeps what it read until the end
# (memory grows with the file), so a file is read one row group at a time; a row group's rows become
# Python objects a batch at a time.
PARQUET_BATCH_ROWS = 512


def read_parquet(path: Path, on_progress: Callable[[int], None] | None = None) -> Iterator[RawRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        yield RawRecord("file", None, f"not a readable Parquet file: {exc}")
        return
    row_number = 0
    size_per_row = max(1, path.stat().st_size // max(1, parquet.metadata.num_rows))
    timed = [field.name for field in parquet.schema_arrow if _holds_time(field.type)]
    try:
        for group in range(parquet.metadata.num_row_groups):
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=[group], use_threads=False):
                if on_progress:
                    on_progress(batch.num_rows * size_per_row)
                for value in batch.to_pylist():
                    row_number += 1
                    for name in timed:
                        value[name] = _time_as_text(value[name])
                    yield RawRecord(f"row {row_number}", value)
    except (pa.ArrowException, OSError) as exc:
        yield RawRecord(f"row {row_number + 1}", None, f"unreadable Parquet data: {exc}; the rest of the file "
                                                        "was not read", rest_unread=True)
    finally:
        parquet.close()


def _holds_time(arrow_type: Any) -> bool:
    """Whether a Parquet column's values are, or hold, timestamps, dates, times or durations."""
    import pyarrow.types as types

    if (types.is_timestamp(arrow_type) or types.is_date(arrow_type) or types.is_time(arrow_type)
            or types.is_duration(arrow_type)):
        return True
    inner = [arrow_type.field(i).type for i in range(arrow_type.num_fields)]  # list, struct and map children
    inner += [getattr(arrow_type, name) for name in ("value_type", "storage_type") if hasattr(arrow_type, name)]
    return any(_holds_time(child) for child in inner)


def _time_as_text(value: Any) -> Any:
    """Times as ISO 8601 text, which JSON metadata can hold (a duration otherwise stops the import)."""
    if isinstance(value, (datetime.date, datetime.time)):  # a datetime is a date
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return iso_duration(value)
    if isinstance(value, dict):
        return {key: _time_as_text(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):  # a map's entries come as (key, value) tuples
        return type(value)(_time_as_text(item) for item in value)
    return value


def iso_duration(value: datetime.timedelta) -> str:
    """ISO 8601, e.g. PT1M30.5S; pandas' Timedelta (pyarrow's nanosecond durations) keeps its nanoseconds."""
    total = ((value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds) * 1_000 \
        + getattr(value, "nanoseconds", 0)
    sign, total = ("-" if total < 0 else ""), abs(total)
    days, rest = divmod(total, 86_400 * 10**9)
    hours, rest = divmod(rest, 3_600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds, fraction = divmod(rest, 10**9)
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or fraction or not (days or clock):
        clock += f"{seconds}{f'.{fraction:09d}'.rstrip('0') if fraction else ''}S"
    return f"{sign}P{f'{days}D' if days else ''}{'T' + clock if clock else ''}"


READERS: dict[str, Callable[..., Iterator[RawRecord]]] = {
    "jsonl": read_jsonl, "json": read_json, "csv": read_csv, "parquet": read_parquet,
}


def read_records(path: Path, file_format: str | None = None,
                 on_progress: Callable[[int], None] | None = None) -> tuple[str, Iterator[RawRecord]]:
    if path.is_dir():
        raise InvalidInput(f"{path}: is a folder; give the file to import")
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    file_format = file_format or detect_format(path)
    if file_format not in READERS:
        raise InvalidInput(f"{path}: unknown format {file_format!r}; use one of {', '.join(FORMATS)}")
    if file_format != "parquet":
        with _open_binary(path) as handle:
            start = handle.read(4)
        encoding = _wide_encoding(start)
        if encoding:
            return file_format, iter([RawRecord("line 1", None, f"the file is {encoding} (it starts with that "
                                                                  "byte-order mark); save it as UTF-8")])
    return file_format, READERS[file_format](path, on_progress)


def folder_files(folder: Path) -> tuple[list[Path], list[str]]:
    """The files a folder import reads: each JSONL, JSON, CSV or Parquet file (optionally .gz) in the
    folder and below, in name order, and the symlinks skipped because they lead outside it (as paths
    relative to the folder), so an import never reads what the folder only points at."""
    root = folder.resolve()
    files: list[Path] = []
    skipped: list[str] = []
    for directory, subfolders, names in os.walk(folder):  # symlinked folders are listed, not entered
        here = Path(directory)
        for name in sorted(subfolders + names):
            path = here / name
            inside = path.resolve().is_relative_to(root)
            if path.is_symlink() and not inside:
                skipped.append(str(path.relative_to(folder)))
            elif path.is_file() and inside and _format_of_name(path) is not None:
                files.append(path)
    return sorted(files), sorted(skipped)


def _format_of_name(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


def _wide_encoding(start: bytes) -> str | None:
    for mark, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                       (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if start.startswith(mark):
            return name
    return None


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)

