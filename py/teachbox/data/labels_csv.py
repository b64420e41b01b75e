"""Parse and validate a labels CSV (`path,label`) that sits next to its images.

The CSV comes from whoever published the data set, so it is untrusted input: a bad row must never stop the other
rows from being used (one typo in 2,800 lines should not cost the whole data set), and no row may make the browser
fetch something outside the CSV's own folder. Every skipped row is reported with its editor line number and a
stable `code`, so the UI can tell the person exactly what to fix.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from teachbox.errors import TeachboxError

# A data set bigger than this would not fit in browser memory as decoded images anyway.
MAX_ROWS = 100_000
MAX_LABEL_LENGTH = 100
# A UI lists the first problems; thousands of identical errors help nobody and bloat the JS boundary.
MAX_ERRORS_IN_SUMMARY = 50

# How many images of a CSV are read before a CSV whose images all fail the same way is given up on: a CSV away
# from its images' folder would otherwise fetch every one of up to 100,000 missing files before saying anything.
FIRST_ROWS = 50

# Bidirectional formatting characters: an override or embedding reorders how the label is shown, even isolated
# (`…\u202eevil` displays as "live"), and the invisible marks make two different labels look the same. Right-to-left
# scripts are displayed correctly without any of them, so a label holding one is refused (docs/decisions.md).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


@dataclass(frozen=True)
class Row:
    """One usable image: the path as written in the CSV and the absolute URL it is fetched from."""

    path: str
    label: str
    url: str
    line: int


@dataclass(frozen=True)
class RowError:
    """Why one line of the CSV was skipped; `line` is the 1-based editor line where the row starts."""

    line: int | None
    path: str | None
    code: str
    message: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ParsedCSV:
    """The usable rows in file order, and one error per skipped row."""

    rows: list[Row]
    errors: list[RowError]

    def to_json(self, max_errors: int = MAX_ERRORS_IN_SUMMARY) -> dict[str, Any]:
        """A summary small enough to send to the UI even when every one of 100,000 rows is broken."""
        return {
            "row_count": len(self.rows),
            "error_count": len(self.errors),
            "error_counts": dict(Counter(e.code for e in self.errors)),
            "errors": [e.to_json() for e in self.errors[:max_errors]],
        }


class _SkipRow(Exception):
    """Internal: the current row is unusable; carries the error to report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _show(value: str, limit: int = 60) -> str:
    """Quote a user value for a message, shortened so one absurd cell cannot flood the UI."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _folder_url(csv_url: str) -> str:
    """The URL every image must live under: the CSV's folder, without query or fragment."""
    parts = urlsplit(csv_url)
    if parts.scheme.lower() not in ("http", "https", "file") or not (parts.netloc or parts.scheme.lower() == "file"):
        raise TeachboxError(
            "csv_url",
            f"The CSV address {_show(csv_url)} is not an absolute http(s) or file URL, "
            "so the image paths in it cannot be located.",
            {"csv_url": csv_url},
        )
    return urljoin(csv_url, ".")


def _find_columns(header: list[str]) -> tuple[int, int]:
    """Indices of the `path` and `label` columns; raises when the header cannot be trusted."""
    names = [cell.strip().lower() for cell in header]
    found = ",".join(cell.strip() for cell in header)
    missing = [f"`{name}`" for name in ("path", "label") if name not in names]
    problem = None
    if missing:
        problem = f"it has no {' or '.join(missing)} column"
    elif names.count("path") > 1 or names.count("label") > 1:
        problem = "the `path` or `label` column appears twice, so it is unclear which one to use"
    if problem:
        raise TeachboxError(
            "csv_header",
            f"The first line of the CSV must be the header `path,label`, but it is {_show(found, 120)}: {problem}.",
            {"expected": ["path", "label"], "found": [cell.strip() for cell in header]},
        )
    return names.index("path"), names.index("label")


def _escapes(path: str) -> str | None:
    """Why `path` (or any percent-decoding of it) would leave the CSV's folder, or None if it stays inside.

    Decoding is repeated because a server or the browser may decode `%2e%2e` (or `%252e%252e`, twice) into `..`.
    Backslashes count as slashes because browsers treat them that way in http(s) URLs.
    """
    seen: set[str] = set()
    candidate = path
    while candidate not in seen:
        seen.add(candidate)
        normal = candidate.replace("\\", "/")
        if _SCHEME.match(normal):
            return "it is a URL with a scheme, not a path relative to the CSV"
        if normal.startswith("/"):
            return "it is an absolute path, not a path relative to the CSV"
        if ".." in normal.split("/"):
            return "it uses `..` to climb out of the CSV's folder"
        candidate = unquote(candidate)
    return None


def _resolve(path: str, folder: str) -> str:
    """The absolute URL of a relative file path, every segment percent-encoded (so `a b#1.png` stays one file).

    Paths are file names, not URLs: `%20` in a path names a file with `%20` in its name and is encoded as `%2520`.
    """
    segments = path.replace("\\", "/").split("/")
    if segments[-1] in ("", "."):
        raise _SkipRow("bad_path", f"The path {_show(path)} names a folder, not an image file.")
    return urljoin(folder, "/".join(quote(segment, safe="") for segment in segments))


def _check_path(path: str, folder: str) -> str:
    """Validate one path cell and return its URL, or raise _SkipRow."""
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        raise _SkipRow("bad_path", f"The path {_show(path)} contains control characters (tab, newline, ...).")
    reason = _escapes(path)
    url = None if reason else _resolve(path, folder)
    if url is None or not url.startswith(folder):
        raise _SkipRow(
            "outside_folder",
            f"The path {_show(path)} is not inside the CSV's folder ({reason or 'it resolves elsewhere'}); "
            "only images next to the CSV can be loaded.",
        )
    return url


def _check_label(label: str) -> None:
    """Labels are kept exactly as written; only lengths, control characters that would break a UI and bidirectional
    formatting characters that would let a label pose as another are refused (docs/decisions.md)."""
    if len(label) > MAX_LABEL_LENGTH:
        raise _SkipRow(
            "bad_label",
            f"The label {_show(label)} is {len(label)} characters long; labels may have at most "
            f"{MAX_LABEL_LENGTH}.",
        )
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise _SkipRow("bad_label", f"The label {_show(label)} contains control characters (tab, newline, ...).")
    found = sorted({ch for ch in label if ch in BIDI_CONTROLS})
    if found:
        raise _SkipRow(
            "bad_label",
            f"The label {_show(label)} contains bidirectional formatting characters "
            f"({', '.join(f'U+{ord(ch):04X}' for ch in found)}), which can make it display as another label; "
            "remove them (right-to-left text needs none).",
        )


def _make_row(path: str, label: str, line: int, folder: str, first_by_url: dict[str, Row]) -> Row:
    """Validate one data row's stripped cells against the rows kept so far; raise _SkipRow if it is unusable."""
    if not path or not label:
        raise _SkipRow("blank_cell", f"The {'path' if not path else 'label'} on this line is empty.")
    url = _check_path(path, folder)
    _check_label(label)
    first = first_by_url.get(url)
    if first is not None and first.label == label:
        raise _SkipRow("duplicate_row", f"The image {_show(path)} is already listed on line {first.line}.")
    if first is not None:
        raise _SkipRow(
            "conflicting_label",
            f"The image {_show(path)} is labelled {_show(label)} here but {_show(first.label)} on line "
            f"{first.line}; the first label is kept.",
        )
    return Row(path=path, label=label, url=url, line=line)


def decode_csv(data: bytes) -> str:
    """The text of a labels CSV, which must be UTF-8 (a byte-order mark is allowed; parse_labels_csv drops it).

    Anything else is refused, naming the line, instead of being decoded with replacement characters: a Latin-1
    `Parasité` would otherwise become the class `Parasit�`, silently another label than the one in the file."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            found = "UTF-16 text"
        else:
            start = data.rfind(b"\n", 0, error.start) + 1
            end = data.find(b"\n", error.start)
            text = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace").rstrip("\r")
            found = f"not UTF-8 text: byte 0x{data[error.start]:02X} in {_show(text)} (Latin-1 or Windows-1252?)"
        raise TeachboxError(
            "csv_encoding",
            f"Line {line} of the CSV is {found}. Save the CSV as UTF-8 (\"CSV UTF-8\" in a spreadsheet) and load it "
            "again; nothing was loaded.",
            {"line": line, "offset": error.start},
        ) from None


def parse_labels_csv(text: str, csv_url: str, *, max_rows: int = MAX_ROWS) -> ParsedCSV:
    """Parse the text of a labels CSV fetched from `csv_url` into usable rows and per-line errors.

    Raises TeachboxError("csv_header") when no row can be used at all (empty file, missing `path`/`label` header)
    and TeachboxError("csv_url") when `csv_url` is not absolute. Everything else is a RowError and the row is skipped.
    """
    folder = _folder_url(csv_url)
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[Row] = []
    errors: list[RowError] = []
    first_by_url: dict[str, Row] = {}
    columns: tuple[int, int] | None = None
    width = 0
    data_rows = 0
    next_line = 1
    while True:
        line = next_line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            next_line = reader.line_num + 1
            errors.append(RowError(line, None, "malformed_row", f"This line is not valid CSV: {exc}."))
            continue
        next_line = reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # blank lines (and spreadsheet `,,` padding) carry no data and are not mistakes
        if columns is None:
            columns = _find_columns(cells)
            width = len(cells)
            continue
        data_rows += 1
        if data_rows > max_rows:
            errors.append(
                RowError(
                    line,
                    None,
                    "too_many_rows",
                    f"Only the first {max_rows:,} rows are read; this line and all lines after it were skipped.",
                )
            )
            break
        if len(cells) != width:
            # The cells cannot be trusted (an unclosed quote may have swallowed later lines), so no path is named.
            errors.append(
                RowError(
                    line,
                    None,
                    "malformed_row",
                    f"This line has {len(cells)} cell(s) but the header has {width}; a path or label containing a "
                    "comma must be wrapped in double quotes, and every opening double quote needs a closing one.",
                )
            )
            continue
        path = cells[columns[0]].strip()
        try:
            row = _make_row(path, cells[columns[1]].strip(), line, folder, first_by_url)
        except _SkipRow as skip:
            errors.append(RowError(line, path, skip.code, skip.message))
            continue
        first_by_url[row.url] = row
        rows.append(row)
    if columns is None:
        raise TeachboxError(
            "csv_header",
            "The CSV is empty; it must start with the header `path,label` followed by one line per image.",
            {"expected": ["path", "label"], "found": []},
        )
    return ParsedCSV(rows=rows, errors=errors)


def first_rows_failure(reports: list[dict[str, Any]], read: int) -> TeachboxError | None:
    """The one error that stops loading when the first `read` (at least FIRST_ROWS) images of a CSV all failed for
    the same reason; `reports` are their per-row errors ({line, path, code, message}). None when some were usable or
    the reasons differ: scattered failures stay per-row reports and loading goes on."""
    codes = {report["code"] for report in reports}
    if read < FIRST_ROWS or len(reports) < read or len(codes) != 1:
        return None
    first = reports[0]
    if codes == {"missing"}:
        problem = (f"None of the first {read} images exist next to the CSV (the server answered 404 for each, "
                   f"starting with {_show(first['path'] or '')} on line {first['line']}): is the CSV in the "
                   "images' folder, with paths relative to it?")
    else:
        problem = f"The first {read} images all failed the same way, starting with line {first['line']}: " \
                  f"{first['message']}"
    return TeachboxError("first_rows_failed", f"{problem} Loading stopped; nothing was changed.",
                         {"reason": first["code"], "errors": reports})


def check_label(label: str) -> str:
    """Validate a label typed or chosen in the UI/API by the same rules as CSV labels; returns it trimmed."""
    trimmed = label.strip() if isinstance(label, str) else ""
    if not trimmed:
        raise TeachboxError("blank_label", "A class needs a name; the label is empty.")
    try:
        _check_label(trimmed)
    except _SkipRow as error:
        raise TeachboxError(error.code, error.message) from None
    return trimmed
