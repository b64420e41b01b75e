"""Labels CSV parsing: real data sets load cleanly, and every kind of bad row is reported while good rows survive."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from teachbox.data.class_index import ClassIndex, check_trainable
from teachbox.data.labels_csv import (
    BIDI_CONTROLS,
    FIRST_ROWS,
    MAX_ROWS,
    check_label,
    decode_csv,
    first_rows_failure,
    parse_labels_csv,
)
from teachbox.errors import TeachboxError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
BASE = "https://teach.example/data/set/labels.csv"
FOLDER = "https://teach.example/data/set/"


def url_to_file(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("malaria", {"Parasitized": 1400, "Uninfected": 1400}),
        ("rock_paper_scissors", {"paper": 140, "rock": 140, "scissors": 140}),
        ("cats_vs_dogs", {"cat": 105, "dog": 105}),
    ],
)
def test_real_datasets_parse_without_errors(name: str, expected: dict[str, int]) -> None:
    csv_path = SHARED / "datasets" / name / "labels.csv"
    if not csv_path.exists():
        pytest.skip(f"{csv_path} not available")
    parsed = parse_labels_csv(csv_path.read_text(encoding="utf-8"), csv_path.as_uri())
    assert parsed.errors == []
    assert Counter(row.label for row in parsed.rows) == expected
    assert [row.line for row in parsed.rows] == list(range(2, len(parsed.rows) + 2))
    for row in parsed.rows[:: max(1, len(parsed.rows) // 25)]:
        assert url_to_file(row.url) == csv_path.parent / row.path
        assert url_to_file(row.url).is_file()
    classes = ClassIndex(row.label for row in parsed.rows)
    assert classes.counts(row.label for row in parsed.rows) == expected
    check_trainable(classes.counts(row.label for row in parsed.rows))


MIXED = "\n".join(
    [
        "path,label",  # 1
        "good/a.png,cat",  # 2
        ",cat",  # 3
        "good/b.png,   ",  # 4
        "good/c.png,cat,extra",  # 5
        "good/a.png,cat",  # 6
        "./good/a.png,dog",  # 7
        "../secret.png,cat",  # 8
        "/etc/passwd,cat",  # 9
        "..\\secret.png,cat",  # 10
        "\\\\evil.example\\x.png,cat",  # 11
        "http://other.example/x.png,cat",  # 12
        '"data:image/png;base64,AAAA",cat',  # 13
        "JavaScript:alert(1),cat",  # 14
        "%2e%2e/secret.png,cat",  # 15
        "good/%252E%252E/%252E%252E/x.png,cat",  # 16
        "//evil.example/x.png,cat",  # 17
        "C:\\images\\x.png,cat",  # 18
        "good/d.png," + "x" * 101,  # 19
        'good/e.png,"tab\there"',  # 20
        '"good/f.png","<img src=x onerror=alert(1)>"',  # 21
        "good/g.png,  dog  ",  # 22
        '"good/h, with comma.png","say ""hi"""',  # 23
        '"good/multi',  # 24
        'line.png",cat',  # 25
        "",  # 26: blank lines are not errors
        "good/i.png,🐱 Katze ü",  # 27
        "good/j.png,cat",  # 28
        "good/j.png,dog",  # 29
        "good/k.png," + "y" * 100,  # 30
        ",",  # 31: spreadsheet padding, ignored
    ]
)

EXPECTED_ERRORS = [
    (3, "blank_cell"),
    (4, "blank_cell"),
    (5, "malformed_row"),
    (6, "duplicate_row"),
    (7, "conflicting_label"),
    (8, "outside_folder"),
    (9, "outside_folder"),
    (10, "outside_folder"),
    (11, "outside_folder"),
    (12, "outside_folder"),
    (13, "outside_folder"),
    (14, "outside_folder"),
    (15, "outside_folder"),
    (16, "outside_folder"),
    (17, "outside_folder"),
    (18, "outside_folder"),
    (19, "bad_label"),
    (20, "bad_label"),
    (24, "bad_path"),
    (29, "conflicting_label"),
]

EXPECTED_ROWS = [
    ("good/a.png", "cat", 2),
    ("good/f.png", "<img src=x onerror=alert(1)>", 21),
    ("good/g.png", "dog", 22),
    ("good/h, with comma.png", 'say "hi"', 23),
    ("good/i.png", "🐱 Katze ü", 27),
    ("good/j.png", "cat", 28),
    ("good/k.png", "y" * 100, 30),
]


@pytest.mark.parametrize("variant", ["lf", "crlf_bom"])
def test_mixed_good_and_bad_rows(variant: str) -> None:
    text = MIXED if variant == "lf" else "\ufeff" + MIXED.replace("\n", "\r\n")
    parsed = parse_labels_csv(text, BASE)
    assert [(e.line, e.code) for e in parsed.errors] == EXPECTED_ERRORS
    assert [(r.path, r.label, r.line) for r in parsed.rows] == EXPECTED_ROWS
    assert all(row.url.startswith(FOLDER) for row in parsed.rows)
    assert parsed.rows[0].url == FOLDER + "good/a.png"
    assert parsed.rows[3].url == FOLDER + "good/h%2C%20with%20comma.png"


def test_error_details_and_summary() -> None:
    parsed = parse_labels_csv(MIXED, BASE)
    by_line = {e.line: e for e in parsed.errors}
    assert by_line[7].path == "./good/a.png"
    assert "line 2" in by_line[7].message and "'cat'" in by_line[7].message
    assert "line 2" in by_line[6].message
    assert by_line[5].path is None  # cells of a malformed row are not trusted
    assert by_line[8].to_json() == {
        "line": 8,
        "path": "../secret.png",
        "code": "outside_folder",
        "message": by_line[8].message,
    }
    summary = parsed.to_json(max_errors=3)
    assert summary["row_count"] == len(EXPECTED_ROWS)
    assert summary["error_count"] == len(EXPECTED_ERRORS)
    assert summary["error_counts"]["outside_folder"] == 11
    assert [e["line"] for e in summary["errors"]] == [3, 4, 5]


def test_file_names_with_url_special_characters_fetch_that_file(tmp_path: Path) -> None:
    names = ["a b#1.png", "q?x=1.png", "100%.png", "%20literal.png", "ünï çødé 😀.png", "semi;colon&plus+.png"]
    (tmp_path / "img").mkdir()
    for name in names:
        (tmp_path / "img" / name).write_bytes(b"png")
    text = "path,label\n" + "".join(f'"img/{name}",x\n' for name in names)
    parsed = parse_labels_csv(text, (tmp_path / "labels.csv").as_uri())
    assert parsed.errors == []
    for name, row in zip(names, parsed.rows):
        parts = urlsplit(row.url)
        assert parts.query == "" and parts.fragment == ""
        assert url_to_file(row.url) == tmp_path / "img" / name
    assert parse_labels_csv("path,label\na b#1.png,x\n", BASE).rows[0].url == FOLDER + "a%20b%231.png"


def test_header_is_flexible_about_case_order_and_extra_columns() -> None:
    parsed = parse_labels_csv(" Label ,notes,PATH\ncat,first,a.png\ndog,,b.png\n", BASE)
    assert parsed.errors == []
    assert [(r.path, r.label, r.line) for r in parsed.rows] == [("a.png", "cat", 2), ("b.png", "dog", 3)]


def test_csv_url_query_and_fragment_do_not_leak_into_image_urls() -> None:
    parsed = parse_labels_csv("path,label\na.png,cat\n", BASE + "?v=3#top")
    assert parsed.rows[0].url == FOLDER + "a.png"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\ufeff",
        "\n\n  \n",
        "file,class\na.png,cat\n",
        "a.png,cat\nb.png,dog\n",
        "path\na.png\n",
        "path,label,path\n",
    ],
)
def test_unusable_header_raises(text: str) -> None:
    with pytest.raises(TeachboxError) as info:
        parse_labels_csv(text, BASE)
    assert info.value.code == "csv_header"
    assert "`path,label`" in info.value.message
    assert info.value.details["expected"] == ["path", "label"]


def test_header_error_names_what_was_found() -> None:
    with pytest.raises(TeachboxError) as info:
        parse_labels_csv("file,class\na.png,cat\n", BASE)
    assert "'file,class'" in info.value.message
    assert info.value.details["found"] == ["file", "class"]


@pytest.mark.parametrize("csv_url", ["labels.csv", "", "blob:https://x/uuid", "data:text/csv,path"])
def test_csv_url_must_be_absolute(csv_url: str) -> None:
    with pytest.raises(TeachboxError) as info:
        parse_labels_csv("path,label\na.png,cat\n", csv_url)
    assert info.value.code == "csv_url"


def test_row_cap_reports_the_rest_once() -> None:
    assert MAX_ROWS == 100_000
    text = "path,label\n" + "".join(f"{i}.png,c\n" for i in range(5))
    parsed = parse_labels_csv(text, BASE, max_rows=3)
    assert [r.path for r in parsed.rows] == ["0.png", "1.png", "2.png"]
    assert [(e.line, e.code) for e in parsed.errors] == [(5, "too_many_rows")]


def test_invalid_csv_syntax_skips_only_that_row() -> None:
    text = 'path,label\n"' + "x" * 200_000 + '",cat\nok.png,dog\n'
    parsed = parse_labels_csv(text, BASE)
    assert [(e.line, e.code) for e in parsed.errors] == [(2, "malformed_row")]
    assert [(r.path, r.line) for r in parsed.rows] == [("ok.png", 3)]


def test_class_index_and_trainability() -> None:
    classes = ClassIndex(["dog", "cat", "dog"])
    assert classes.labels == ["dog", "cat"] and len(classes) == 2
    assert classes.index("cat") == 1 and "dog" in classes
    assert classes.counts(["cat", "cat"]) == {"dog": 0, "cat": 2}
    with pytest.raises(TeachboxError) as info:
        classes.index("bird")
    assert info.value.code == "unknown_label"
    cases = [({}, "no_classes"), ({"cat": 3}, "one_class"), ({"cat": 3, "dog": 0}, "empty_class")]
    for counts, code in cases:
        with pytest.raises(TeachboxError) as info:
            check_trainable(counts)
        assert info.value.code == code
    with pytest.raises(TeachboxError) as info:
        check_trainable({"cat": 3})
    assert "found only 'cat'" in info.value.message
    with pytest.raises(TeachboxError) as info:
        check_trainable({"cat": 3, "dog": 0})
    assert "Class 'dog' has no usable images" in info.value.message
    assert info.value.details["empty"] == ["dog"]


def test_utf8_with_or_without_bom_is_decoded_exactly() -> None:
    text = "path,label\na.png,Parasité 🐱\nb.png,Katze ü\n"
    assert decode_csv(text.encode("utf-8")) == text
    with_bom = decode_csv(text.encode("utf-8-sig"))
    assert [row.label for row in parse_labels_csv(with_bom, BASE).rows] == ["Parasité 🐱", "Katze ü"]


@pytest.mark.parametrize(("data", "line", "found"), [
    ("path,label\r\na.png,ok\r\nb.png,Parasité\r\n".encode("latin-1"), 3,
     "not UTF-8 text: byte 0xE9 in 'b.png,Parasit\ufffd'"),
    ("path,label\na.png,Ünicode\n".encode("cp1252"), 2, "byte 0xDC"),
    ("path,label\na.png,x\n".encode("utf-16"), 1, "UTF-16 text"),
    (b"path,label\na.png,cut \xe2\x82", 2, "byte 0xE2"),  # a multi-byte character cut off at the end
])
def test_a_csv_that_is_not_utf8_is_refused_naming_the_line(data: bytes, line: int, found: str) -> None:
    with pytest.raises(TeachboxError) as info:
        decode_csv(data)
    error = info.value
    assert error.code == "csv_encoding" and error.details["line"] == line
    assert error.message.startswith(f"Line {line} of the CSV is ")
    assert found in error.message
    assert "Save the CSV as UTF-8" in error.message


def _reports(codes: list[str]) -> list[dict]:
    return [{"line": i + 2, "path": f"images/{i}.png", "code": code, "message": f"Could not load images/{i}.png."}
            for i, code in enumerate(codes)]


def test_first_rows_all_missing_stop_loading_with_one_message() -> None:
    error = first_rows_failure(_reports(["missing"] * FIRST_ROWS), FIRST_ROWS)
    assert error is not None and error.code == "first_rows_failed"
    assert error.message.startswith(f"None of the first {FIRST_ROWS} images exist next to the CSV")
    assert "'images/0.png' on line 2" in error.message and "images' folder" in error.message
    assert error.details["reason"] == "missing" and len(error.details["errors"]) == FIRST_ROWS


def test_first_rows_failing_for_another_one_reason_stop_with_its_message() -> None:
    error = first_rows_failure(_reports(["not_an_image"] * FIRST_ROWS), FIRST_ROWS)
    assert error is not None and error.details["reason"] == "not_an_image"
    assert "all failed the same way, starting with line 2: Could not load images/0.png." in error.message


@pytest.mark.parametrize(("codes", "read"), [
    (["missing"] * (FIRST_ROWS - 1), FIRST_ROWS),                       # one of the first rows was usable
    (["missing"] * (FIRST_ROWS - 1) + ["not_an_image"], FIRST_ROWS),    # two reasons: scattered problems
    (["missing"] * (FIRST_ROWS - 1), FIRST_ROWS - 1),                   # too few rows to judge the folder by
])
def test_scattered_or_few_failures_do_not_stop(codes: list[str], read: int) -> None:
    assert first_rows_failure(_reports(codes), read) is None


@pytest.mark.parametrize("control", sorted(BIDI_CONTROLS))
def test_labels_with_bidi_formatting_characters_are_refused(control: str) -> None:
    """A right-to-left override makes `…\u202eevil` display as "live" and an invisible mark makes "cat" and
    "cat\u200e" look alike: a label could pose as another, so none may hold one (in a CSV, or typed)."""
    with pytest.raises(TeachboxError) as info:
        check_label(f"cat{control}evil")
    assert info.value.code == "bad_label"
    assert f"U+{ord(control):04X}" in info.value.message and "display as another label" in info.value.message
    assert control not in info.value.message  # the message quotes the label escaped, so it cannot pose either
    parsed = parse_labels_csv(f"path,label\na.png,cat\nb.png,cat{control}\n", BASE)
    assert [row.label for row in parsed.rows] == ["cat"]
    assert [(e.line, e.code) for e in parsed.errors] == [(3, "bad_label")]


def test_right_to_left_labels_need_no_formatting_characters() -> None:
    for label in ("قطة", "חתול", "قطة cat 3", "cat (חתול)"):
        assert check_label(label) == label
