"""Reading an uploaded CSV: the bytes to text, the header, the rows. Everything that makes a
file unreadable raises ``UnreadableFile`` with a message an admin can act on; nothing here
touches the database."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

EXPECTED_ENCODING = "UTF-8"
# The longest cell we accept. csv's own default is 128 KiB; a cell this long is almost
# always a file that is not CSV, or a quote that never closes and swallows the rest.
CELL_LIMIT = 10_000
DELIMITERS = (",", ";", "\t")
NOT_CSV_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or a zip archive",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}


class UnreadableFile(ValueError):
    """The upload cannot be read as a CSV; the message says why and what to do."""


@dataclass(frozen=True)
class CsvText:
    text: str
    delimiter: str
    headers: list[str]


def text_decode(content: bytes) -> str:
    """The file as text: UTF-8 with or without a byte order mark. Anything else is refused with
    the encoding we expect, because guessing Latin-1 silently garbles names."""
    for signature, what in NOT_CSV_SIGNATURES.items():
        if content.startswith(signature):
            raise UnreadableFile(f"This looks like {what}, not a CSV file. Save it as “CSV UTF-8” and upload that.")
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(
            f"The file is encoded as UTF-16; csplatform expects {EXPECTED_ENCODING}. "
            "In Excel choose “Save as… CSV UTF-8 (comma delimited)”."
        )
    if b"\x00" in content[:4096]:
        raise UnreadableFile("The file contains binary data (NUL bytes): it is not a CSV text file.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        raise UnreadableFile(
            f"The file is not valid {EXPECTED_ENCODING}: byte 0x{content[error.start]:02x} on line {line} cannot "
            f"be read (often a file saved as Latin-1 / Windows-1252). Save it as “CSV UTF-8” and upload it again."
        ) from None
    if not text.strip():
        raise UnreadableFile("The file is empty.")
    return text


def delimiter_detect(first_line: str) -> str:
    """Comma unless the header has more semicolons or tabs (spreadsheets in many locales)."""
    counts = {delimiter: first_line.count(delimiter) for delimiter in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))


@contextlib.contextmanager
def _cell_limit() -> Iterator[None]:
    previous = csv.field_size_limit(CELL_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def csv_open(content: bytes) -> CsvText:
    """Decode and read the header. Refuses a file with no header, blank or repeated column
    names, or no data row."""
    text = text_decode(content)
    delimiter = delimiter_detect(text.lstrip().split("\n", 1)[0])
    rows = rows_iterate(text, delimiter, include_header=True)
    headers = next(rows, None)
    if headers is None:
        raise UnreadableFile("The file is empty.")
    headers = [cell.strip() for cell in headers[1]]
    if not any(headers):
        raise UnreadableFile("The first line should name the columns, but it is blank.")
    blanks = [str(index + 1) for index, name in enumerate(headers) if not name]
    if blanks:
        raise UnreadableFile(f"Column {', '.join(blanks)} of the header has no name.")
    seen: dict[str, int] = {}
    for name in headers:
        key = header_normalise(name)
        if key in seen:
            raise UnreadableFile(f"The header names the column “{name}” twice.")
        seen[key] = 1
    if next(rows, None) is None:
        raise UnreadableFile("The file has a header but no rows.")
    return CsvText(text=text, delimiter=delimiter, headers=headers)


def rows_iterate(text: str, delimiter: str, *, include_header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cells)`` for each non-blank record, numbered as a spreadsheet shows them
    (the header is row 1). A cell over CELL_LIMIT characters raises ``UnreadableFile``."""
    with _cell_limit():
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        number = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                where = f"row {number + 1} (line {reader.line_num})"
                if "field larger than field limit" in str(error):
                    raise UnreadableFile(
                        f"{where.capitalize()} has a cell longer than {CELL_LIMIT:,} characters. Is a quote "
                        "left open, or is the file not a CSV?"
                    ) from None
                raise UnreadableFile(f"{where.capitalize()} cannot be read as CSV: {error}.") from None
            number += 1
            if number == 1 and not include_header:
                continue
            if not any(cell.strip() for cell in cells):
                continue
            yield number, cells


_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def header_normalise(name: str) -> str:
    """ "Account Name", "account_name" and "ACCOUNT-NAME" all read ``accountname``."""
    return _NOT_ALNUM.sub("", name.lower())
