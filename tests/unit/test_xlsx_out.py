"""The report writers' XlsxWriter helpers (core/xlsx_out.py), read back with openpyxl as the
importer and the tests read the reports: text stays text whatever it looks like, control
characters and over-long text are written the way both Excel and openpyxl read them, dates carry
a date format, widths come out in Excel's stored unit."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from dagster_project.core import xlsx_out as X

MODES = [pytest.param(False, id="shared-strings"), pytest.param(True, id="constant-memory")]


def roundtrip(tmp_path, values, constant_memory=False, style=None):
    """Write ``values`` down column A, return the cells openpyxl reads back."""
    path = tmp_path / "t.xlsx"
    wb = X.workbook(path, constant_memory=constant_memory)
    st = X.Styles(wb)
    ws = wb.add_worksheet("s")
    cs = st.cell(style)
    for i, v in enumerate(values):
        X.write(ws, i, 0, v, cs)
    wb.close()
    rd = load_workbook(path).active
    return [rd.cell(row=i + 1, column=1) for i in range(len(values))], path


@pytest.mark.parametrize("constant_memory", MODES)
def test_text_that_looks_like_a_formula_a_link_or_a_number_stays_text(tmp_path, constant_memory):
    texts = ["=SUM(A1)", "=1+1", "+81-3", "-1", "@user", "https://example.jp/a?b=1", "mailto:kikan@example.jp",
             "ftp://x", "0123", "1e5", "TRUE", "#N/A", " 前後に空白 ", "改行\nあり", "タブ\tあり", "𠮷野家"]
    cells, path = roundtrip(tmp_path, texts, constant_memory)
    assert [c.value for c in cells] == texts
    assert {c.data_type for c in cells} == {"s"}
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in sheet and "hyperlink" not in sheet, "text written as a formula or a link"
        assert not any(n.startswith("xl/worksheets/_rels") for n in z.namelist())


@pytest.mark.parametrize("constant_memory", MODES)
def test_control_characters_are_written_as_excel_and_openpyxl_both_read_them(tmp_path, constant_memory):
    given = ["a\x01b", "\x00", "x\x1fy\x0b\x0c", "a\rb", "a\r\nb", "\ud800x", "no\ufffe\uffffn"]
    cells, _ = roundtrip(tmp_path, given, constant_memory)
    got = [c.value for c in cells]
    # C0 controls become their Control Pictures, CR and CRLF become LF (what openpyxl's own files
    # read back as), lone surrogates and non-characters U+FFFD: what was written is what is read
    assert got == ["a\u2401b", "\u2400", "x\u241fy\u240b\u240c", "a\nb", "a\nb", "\ufffdx", "no\ufffd\ufffdn"]
    assert got == [X.clean_text(s) for s in given]
    assert [X.clean_text(s) for s in got] == got        # idempotent: cleaning twice changes nothing


def test_a_literal_escape_sequence_is_not_decoded(tmp_path):
    """Excel decodes _xHHHH_ in a text: XlsxWriter escapes a literal one, and openpyxl reads it back."""
    cells, _ = roundtrip(tmp_path, ["_x0041_", "a_x000D_b"])
    assert [c.value for c in cells] == ["_x0041_", "a_x000D_b"]


@pytest.mark.parametrize("constant_memory", MODES)
def test_text_of_the_rich_string_form_is_escaped_not_markup(tmp_path, constant_memory):
    """XlsxWriter writes a text of the form <r>…</r> into the XML raw, as its own rich-text markup:
    these would read back as 'boom' and break the file."""
    given = ["<r><t>boom</t></r>", "<r>x</r>", "<r></r>", "<r>&amp;<</r>", "<b>bold</b>"]
    cells, path = roundtrip(tmp_path, given, constant_memory)
    assert [c.value for c in cells] == given
    with zipfile.ZipFile(path) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))
        assert "<t>boom</t>" not in xml


@pytest.mark.parametrize("constant_memory", MODES)
def test_long_text_is_cut_at_excels_limit(tmp_path, constant_memory):
    exact, over = "あ" * X.MAX_TEXT, "い" * (X.MAX_TEXT + 10)
    cells, _ = roundtrip(tmp_path, [exact, over, "x" * 100_000], constant_memory)
    assert cells[0].value == exact
    assert cells[1].value == "い" * X.MAX_TEXT
    assert len(cells[2].value) == X.MAX_TEXT == 32_767


@pytest.mark.parametrize("constant_memory", MODES)
def test_values_by_type_and_empty_cells(tmp_path, constant_memory):
    values = [42, -1.5, Decimal("2.25"), True, False, dt.date(2026, 11, 20), dt.datetime(2026, 11, 20, 9, 30, 5),
              None, "", 10**15]
    cells, _ = roundtrip(tmp_path, values, constant_memory, style=X.fill("FFF8DC"))
    got = [c.value for c in cells]
    assert got[:5] == [42, -1.5, 2.25, True, False]
    assert [type(v) for v in got[:5]] == [int, float, float, bool, bool]
    assert got[5] == dt.datetime(2026, 11, 20) and cells[5].number_format == "yyyy-mm-dd"
    assert got[6] == dt.datetime(2026, 11, 20, 9, 30, 5) and cells[6].number_format == "yyyy-mm-dd h:mm:ss"
    # None and "" are empty cells (openpyxl wrote no value for ""), still in the style: the yellow stays
    assert got[7] is None and got[8] is None
    assert {c.fill.fgColor.rgb[-6:] for c in cells} == {"FFF8DC"}
    assert {c.fill.patternType for c in cells} == {"solid"}
    assert got[9] == 10**15


def test_a_date_keeps_the_columns_own_number_format(tmp_path):
    cells, _ = roundtrip(tmp_path, [dt.date(2026, 1, 2)], style={"num_format": "yyyy/m/d", "valign": "top"})
    assert cells[0].number_format == "yyyy/m/d" and cells[0].alignment.vertical == "top"


def test_what_cannot_be_a_cell_is_refused(tmp_path):
    wb = X.workbook(tmp_path / "t.xlsx")
    ws = wb.add_worksheet("s")
    with pytest.raises(TypeError):
        X.write(ws, 0, 0, {"a": 1})
    with pytest.raises(TypeError):
        X.write(ws, 0, 0, dt.date(2026, 1, 1))     # a date needs a style to carry its format
    wb.close()


def test_one_format_per_style(tmp_path):
    wb = X.workbook(tmp_path / "t.xlsx")
    st = X.Styles(wb)
    a = st.format({"bold": True, "font_color": "#FFFFFF"})
    assert st.format({"font_color": "#FFFFFF", "bold": True}) is a
    assert st.format({"bold": True}) is not a
    assert st.format({}) is None and st.cell().fmt is None
    cs = st.cell({"valign": "top"})
    assert st.cell({"valign": "top"}) is cs and cs.dated("yyyy-mm-dd") is cs.dated("yyyy-mm-dd")
    wb.close()


def test_widths_are_excels_stored_unit(tmp_path):
    """A width as openpyxl wrote it (Excel's stored unit): whole numbers exactly, others the
    nearest value Excel draws with the same pixels."""
    path = tmp_path / "w.xlsx"
    wb = X.workbook(path)
    ws = wb.add_worksheet("s")
    widths = [40, 10, 8, 70, 12.8, 17.6, 59.2]
    for i, w in enumerate(widths):
        X.set_width(ws, i, w)
    wb.close()
    dims = load_workbook(path).active.column_dimensions
    got = [dims[X.col_letter(i)].width for i in range(len(widths))]
    assert got[:4] == [40, 10, 8, 70]

    def px(w):            # the pixels Excel draws for a stored width (Calibri 11)
        return int(((256 * w + int(128 / 7)) / 256) * 7)
    assert [px(g) for g in got] == [px(w) for w in widths]
    assert got == [X.excel_width(w) for w in widths]
    assert all(abs(g - w) < 1 / 7 for g, w in zip(got, widths))
