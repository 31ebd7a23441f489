"""The SQL spelling of "the characters of a string" (DuckDB), with no heavy imports: the Great
Expectations child process imports it, and every import there is paid once per rehearsal."""

from __future__ import annotations

SPLIT_PATTERN = "[^\\x{E0100}-\\x{E01EF}][\\x{E0100}-\\x{E01EF}]?"  # one character, with its selector


def split_chars_sql(expr: str) -> str:
    """DuckDB SQL: the characters of ``expr`` as a list, an IVS selector kept with its base.

    ``string_split(x, '')`` is four times faster than the regex, which is needed only when a
    selector is present (the dbt macro ``split_chars`` is the same expression for the models).
    """
    return (f"case when regexp_matches({expr}, '[\\x{{E0100}}-\\x{{E01EF}}]') "
            f"then regexp_extract_all({expr}, '{SPLIT_PATTERN}') else string_split({expr}, '') end")
