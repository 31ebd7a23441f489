"""What the report writers share to write a workbook with XlsxWriter (openpyxl only reads).

XlsxWriter writes the reports' workbooks (gap report, 外字同定リスト, the owner's workbook) in
about half of openpyxl's time for the same cells; openpyxl still reads them back (the importer,
the tests). In the shared layer because the 外字同定リスト is written by the conformance stage,
which may not import the reports. It holds only what XlsxWriter does not do the way the reports
need:

- :func:`clean_text`: text is always written as text (``write_string``; XlsxWriter's ``write``
  would make ``=SUM(A1)`` a formula and ``http://…`` a link), in a form that Excel and openpyxl
  read back alike: CR and CRLF become LF (what openpyxl's files gave: XML reading turns a raw CR
  into LF), the other C0 control characters, which XML cannot carry, become their visible
  Control Pictures (U+2401 ␁ for \\x01 …; openpyxl's own writer refused them and stopped the
  report), lone surrogates and the non-characters U+FFFE/U+FFFF become U+FFFD, and a text is cut
  at Excel's 32,767 characters. XlsxWriter's own ``_xHHHH_`` escape of control characters is
  not used: Excel decodes it, openpyxl does not (it reads ``_x0001_`` literally).
- :func:`write`: a value by its Python type, a date or datetime with a date format (as
  openpyxl gave it), an empty text as an empty cell (openpyxl wrote no value for ``""``, so it
  reads back as ``None``), and a text of the form ``<r>…</r>`` as a one-run rich string:
  XlsxWriter would otherwise copy such a text into the XML unescaped as rich-text markup.
- :class:`Styles`: one XlsxWriter format per style, keyed by the style's properties.
- :func:`set_width`: a column width in Excel's stored unit (what openpyxl wrote and reads back as
  ``column_dimensions[…].width``), given to XlsxWriter, which adds the cell padding itself, so
  that Excel draws the same number of pixels.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

MAX_TEXT = 32_767                       # characters in one Excel cell
DATE_FORMAT = "yyyy-mm-dd"              # openpyxl's formats for a date and a datetime value
DATETIME_FORMAT = "yyyy-mm-dd h:mm:ss"
TIME_FORMAT = "h:mm:ss"

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _picture(m: re.Match) -> str:
    ch = m.group(0)
    return chr(0x2400 + ord(ch)) if ch < " " else "\ufffd"


def clean_text(s: str) -> str:
    """The text as it is written (and as Excel and openpyxl read it back); see the module doc."""
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if _UNSAFE.search(s):
        s = _UNSAFE.sub(_picture, s)
    if len(s) > MAX_TEXT:
        s = s[:MAX_TEXT]
    return s


def workbook(path: Path | str, *, constant_memory: bool = False) -> xlsxwriter.Workbook:
    """A new workbook at ``path``; every cell is kept until ``close()``. ``constant_memory``
    writes each row when the next one starts instead (rows strictly in order, no tables), every
    text inline: the reports do not use it, it was not faster for them (the gap reports: 0.77-0.83
    against 0.57-0.59 s at 20,000 residents, 2.0 against 2.1 s at 100,000) and openpyxl reads a
    literal ``_xHHHH_`` of an inline text back escaped (``_x005F_xHHHH_``; Excel reads it right)."""
    return xlsxwriter.Workbook(str(path), {
        "constant_memory": constant_memory,
        # write() is not used for data, but should anything call it: text stays text
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })


class CellStyle:
    """A style's formats: as given, and with the date/datetime/time number format added (a date in
    a cell always shows as a date, the way openpyxl gave it its format on assignment)."""

    __slots__ = ("_styles", "style", "fmt", "_dates")

    def __init__(self, styles: Styles, style: dict):
        self._styles, self.style = styles, style
        self.fmt: Format | None = styles.format(style)
        self._dates: dict[str, Format] = {}

    def dated(self, num_format: str) -> Format:
        f = self._dates.get(num_format)
        if f is None:
            f = self._dates[num_format] = self._styles.format({"num_format": num_format, **self.style})
        return f


class Styles:
    """Formats of one workbook, one per distinct style (a dict of XlsxWriter format properties,
    e.g. ``{"bold": True, "bg_color": "#1F4E78", "pattern": 1}``)."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.wb = wb
        self._formats: dict[tuple, Format] = {}
        self._cells: dict[tuple, CellStyle] = {}

    @staticmethod
    def _key(style: dict) -> tuple:
        return tuple(sorted(style.items()))

    def format(self, style: dict | None) -> Format | None:
        if not style:
            return None
        key = self._key(style)
        f = self._formats.get(key)
        if f is None:
            f = self._formats[key] = self.wb.add_format(dict(style))
        return f

    def cell(self, style: dict | None = None) -> CellStyle:
        style = style or {}
        key = self._key(style)
        cs = self._cells.get(key)
        if cs is None:
            cs = self._cells[key] = CellStyle(self, dict(style))
        return cs


def col_letter(col: int) -> str:
    """The letters of a 0-based column: 0 -> A, 26 -> AA."""
    return xl_col_to_name(col)


def fill(rgb: str) -> dict:
    """A solid fill of ``rgb`` (``"1F4E78"``), as format properties."""
    return {"pattern": 1, "bg_color": f"#{rgb}"}


def write_text(ws: Worksheet, row: int, col: int, s: str, fmt: Format | None = None) -> None:
    """``s`` as text, never a formula or link (0-based row and column)."""
    s = clean_text(s)
    if not s:
        ws.write_blank(row, col, None, fmt)
    elif s[0] == "<" and s.startswith("<r>") and s.endswith("</r>"):
        # XlsxWriter takes a text of this form for its own rich-string markup and writes it raw;
        # three plain runs make it a real rich string whose runs read back as the same text
        args = [s[:1], s[1:2], s[2:]] + ([fmt] if fmt is not None else [])
        ws.write_rich_string(row, col, *args)
    else:
        ws.write_string(row, col, s, fmt)


def write(ws: Worksheet, row: int, col: int, v, cs: CellStyle | None = None) -> None:
    """One value by its type (0-based row and column), in the style ``cs``."""
    fmt = cs.fmt if cs is not None else None
    t = type(v)
    if t is str:
        if v and v[0] != "<" and not _UNSAFE.search(v) and "\r" not in v and len(v) <= MAX_TEXT:
            ws.write_string(row, col, v, fmt)       # the common case, checked inline
        else:
            write_text(ws, row, col, v, fmt)
    elif v is None:
        ws.write_blank(row, col, None, fmt)
    elif t is bool:
        ws.write_boolean(row, col, v, fmt)
    elif t is int or t is float or t is Decimal:
        ws.write_number(row, col, v, fmt)
    elif isinstance(v, str):
        write_text(ws, row, col, str(v), fmt)
    elif isinstance(v, (dt.date, dt.time)):
        if cs is None:
            raise TypeError("a date is written with a CellStyle (Styles.cell()), which carries its date format")
        if "num_format" not in cs.style:
            fmt = cs.dated(DATETIME_FORMAT if isinstance(v, dt.datetime) else
                           DATE_FORMAT if isinstance(v, dt.date) else TIME_FORMAT)
        ws.write_datetime(row, col, v, fmt)
    elif isinstance(v, (int, float, Decimal)):
        ws.write_number(row, col, v, fmt)
    else:
        raise TypeError(f"a {t.__name__} cannot be written to a workbook cell")


def write_row(ws: Worksheet, row: int, values, styles: list[CellStyle | None] | CellStyle | None = None) -> None:
    """A row of values from column 0; ``styles`` one per column, or one for all."""
    if styles is None or isinstance(styles, CellStyle):
        for c, v in enumerate(values):
            write(ws, row, c, v, styles)
    else:
        for c, (v, cs) in enumerate(zip(values, styles)):
            write(ws, row, c, v, cs)


def set_width(ws: Worksheet, col: int, width: float) -> None:
    """Column ``col`` (0-based) ``width`` wide in Excel's stored unit, as openpyxl's
    ``column_dimensions[…].width``: Excel draws trunc(7·w + 0.49) pixels for it (Calibri 11), and
    XlsxWriter's width w' gives round(7·w') + 5 pixels (it adds the padding), stored as that
    number of pixels / 7. A width that is a whole number (or any multiple of 1/7) is stored
    exactly; any other is stored as the nearest 1/7 that draws the same pixels."""
    px = int(((256 * width + int(128 / 7)) / 256) * 7)
    ws.set_column(col, col, max(px - 5, 0) / 7)


def excel_width(width: float) -> float:
    """What Excel (and openpyxl on reading) gets as the stored width after :func:`set_width`."""
    px = int(((256 * width + int(128 / 7)) / 256) * 7)
    return int(px / 7 * 256) / 256
