"""The SQL spelling of "the characters of a string" (DuckDB), with no heavy imports: the Great
Expectations child process imports it, and every import there is paid once per rehearsal.

The IVS selector range (U+E0100–E01EF) is written with the literal characters, not as
``\\x{E0100}``: the same SQL goes into a GX ``unexpected_rows_query``, which GX fills with
``str.format`` (``{batch}``), so any other brace in it is read as a placeholder and the
expectation raises instead of evaluating. DuckDB's regex (RE2) reads the pattern as UTF-8, so a
literal selector in a character class is the same range. Keep this SQL free of ``{`` and ``}``
(``tests/unit/test_gx_adapter.py`` formats it the way GX does).
"""

from __future__ import annotations

IVS_FIRST, IVS_LAST = "\U000E0100", "\U000E01EF"  # VARIATION SELECTOR-17 … VARIATION SELECTOR-256
IVS_CLASS = f"[{IVS_FIRST}-{IVS_LAST}]"  # one selector
SPLIT_PATTERN = f"[^{IVS_FIRST}-{IVS_LAST}]{IVS_CLASS}?"  # one character, with its selector


def split_chars_sql(expr: str) -> str:
    """DuckDB SQL: the characters of ``expr`` as a list, an IVS selector kept with its base.

    ``string_split(x, '')`` is four times faster than the regex, which is needed only when a
    selector is present (the dbt macro ``split_chars`` is the same expression for the models).
    """
    return (f"case when regexp_matches({expr}, '{IVS_CLASS}') "
            f"then regexp_extract_all({expr}, '{SPLIT_PATTERN}') else string_split({expr}, '') end")
