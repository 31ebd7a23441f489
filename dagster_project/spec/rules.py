"""The field rules of the standard items, defined once.

Both the findings ledger (dbt SQL, :mod:`.findgen`) and the Great Expectations suites
(:mod:`.gx_suites`) are generated from these definitions, so the owners' lists and the ICT
office's checks cannot drift apart: ``tests/integration/test_findings_ledger.py`` asserts that
GX's unexpected counts equal the ledger's for every rule here. The rule ids are those of
``seeds/finding_rules.csv``; the GX label is the expectation's ``meta.rule``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldRule:
    rule_id: str
    char_class: str          # the catalog's 文字種 of the items it applies to (string items only)
    mode: str                # "full": every value must match; "find": no value may contain a match
    pattern: str             # a regex both DuckDB (RE2) and Python read alike
    gx_label: str

    def sql(self, column: str) -> str:
        """dbt SQL (with the project's portable macros): true where the value breaks the rule."""
        p = self.pattern.replace("'", "''")
        if self.mode == "full":
            return f"{column} is not null and not " + "{{ kikan.re_full('" + column + "', \"" + p + "\") }}"
        return f"{column} is not null and " + "{{ kikan.re_find('" + column + "', \"" + p + "\") }}"

    def gx_expectation(self) -> tuple[str, str]:
        """(GX expectation type, regex) checking the same rule on the standard table."""
        if self.mode == "full":
            return "expect_column_values_to_match_regex", f"^{self.pattern}$"
        return "expect_column_values_to_not_match_regex", self.pattern


FIELD_RULES = (
    FieldRule("digits_rule", "数字", "full", "[0-9]+", "数字項目の文字種"),
    FieldRule("kana_rule", "カナ", "full", "[ァ-ヶー　ヽヾ]+", "カナ項目の文字種"),
    FieldRule("hankaku_kana", "漢字", "find", "[ｦ-ﾟ]", "漢字項目に半角カナ"),
    FieldRule("alphabet_rule", "英数", "full", "[A-Z0-9 ,.'-]+", "英字項目の文字種"),
)

# the other rules GX checks on the standard tables, by expectation label
GX_LABELS = {"主キー重複": "duplicate_key", "コード表にないコード値": "code_not_in_table",
             "行政事務標準文字にない文字": "charset", **{r.gx_label: r.rule_id for r in FIELD_RULES}}


def field_rules_for(item) -> list[FieldRule]:
    """The field rules of a standard item (string items of the rule's 文字種)."""
    if item.data_type != "string":
        return []
    return [r for r in FIELD_RULES if r.char_class == item.char_class]


def charset_applies(item) -> bool:
    """Every character of a text item must be 行政事務標準文字 (digits items have their own rule)."""
    return item.data_type == "string" and item.char_class != "数字"
