"""The shape of the system owner's workbook (``<system>_移行確認.xlsx``), defined once.

The writer (:mod:`.owner_workbook`) lays the sheets out from these definitions and the importer
(:mod:`.owner_import`) reads decisions back by the same headings, so a column can be moved or
renamed in one place. Every sheet has its headings on row :data:`HEADER_ROW` and data below;
input columns (``input=True``) are where the owner types, everything else is written by the run
and ignored on import. Internal keys and line numbers only: no names, addresses, birth dates or
個人番号 in any column.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from dagster_project.spec.decisions import DECISIONS

def display_width(text: str) -> int:
    """Columns a text takes in a cell or a terminal: East Asian wide characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


HEADER_ROW = 4          # rows 1-3: the sheet's title and how to fill it in

MYNUMBER_RESULTS = ("本人確認済", "修正済", "修正予定")
GAIJI_CHOICES = ("同定", "縮退", "要確認")


@dataclass(frozen=True)
class Col:
    name: str
    width: float = 14
    input: bool = False
    choices: tuple[str, ...] | None = None    # a dropdown from this list
    date: bool = False
    wrap: bool = False


@dataclass(frozen=True)
class Sheet:
    name: str
    title: str
    how: str                          # one line of instructions, in Japanese
    cols: tuple[Col, ...]
    key: str | None = None            # the column that names what a decision is about

    def col(self, name: str) -> int:
        """1-based column index of a heading."""
        return [c.name for c in self.cols].index(name) + 1


DECISION_COLS = (
    Col("対応方針", 14, input=True, choices=DECISIONS, wrap=True),
    Col("理由", 22, input=True, wrap=True),
    Col("決定者", 12, input=True, wrap=True),
    Col("決定日", 11, input=True, date=True),
)

SPEC = Sheet(
    "仕様差異", "仕様差異（標準項目ごと・コード値ごと）",
    "対応方針・理由・決定者・決定日を記入してください。コード値の差異への決定は、そのコード値を持つレコード（データ差異）にも適用されます。",
    (Col("ギャップID", 22, wrap=True), Col("差異の種類", 12, wrap=True), Col("標準テーブル", 13, wrap=True),
     Col("項目ID", 8), Col("項目名", 12, wrap=True), Col("現行項目", 10, wrap=True), Col("現行コード値", 8),
     Col("内容", 24, wrap=True), Col("該当件数", 7), Col("状態", 8, wrap=True)) + DECISION_COLS,
    key="ギャップID")

DATA = Sheet(
    "データ差異", "データ差異（項目ごと・種類ごと）",
    "対応方針・理由・決定者・決定日を記入してください。対象のレコードは「対象レコード一覧」にすべて載っています。",
    (Col("ギャップID", 24, wrap=True), Col("差異の種類", 12, wrap=True), Col("標準テーブル", 13, wrap=True),
     Col("項目ID", 8), Col("項目名", 12, wrap=True), Col("該当件数", 8), Col("状態", 9, wrap=True)) + DECISION_COLS,
    key="ギャップID")

KEYS = Sheet(
    "キー違反", "キー違反（重複・参照先なし・検査数字）：レコードごと",
    "レコードごとに対応方針を記入してください。キー違反は現行データの補正で解消します（決定だけでは移行不可は解消しません）。",
    (Col("指摘ID", 24, wrap=True), Col("現行ファイル", 14, wrap=True), Col("行番号", 8), Col("内部キー", 13),
     Col("指摘", 14, wrap=True), Col("標準テーブル", 13, wrap=True), Col("項目名", 12, wrap=True), Col("内容", 12),
     Col("状態", 8)) + DECISION_COLS,
    key="指摘ID")

MYNUMBER = Sheet(
    "個人番号紐付け確認", "個人番号紐付けの確認（4情報の照合、マイナンバー紐付け総点検）",
    "照合が4/4でないレコードです。本人確認の結果・確認者・確認日を記入してください。",
    (Col("標準テーブル", 16), Col("現行ファイル", 18), Col("行番号", 9), Col("宛名番号", 13),
     Col("住基の宛名番号", 13), Col("照合結果", 12), Col("氏名", 7), Col("生年月日", 9), Col("性別", 7),
     Col("住所", 7), Col("備考", 28, wrap=True), Col("状態", 10),
     Col("確認結果", 14, input=True, choices=MYNUMBER_RESULTS), Col("確認者", 18, input=True),
     Col("確認日", 13, input=True, date=True)),
    key="宛名番号")

GAIJI = Sheet(
    "外字同定", "外字同定（標準外の文字ごと）",
    "判定（同定・縮退・要確認）と標準の文字を記入してください。決定済みの文字も履歴として残ります。",
    (Col("外字コード", 11), Col("現行の字形", 9), Col("コードポイント", 14), Col("使用件数", 9),
     Col("対象レコード（内部キー・行）", 30, wrap=True), Col("住基ネット統一文字コード", 14), Col("戸籍統一文字番号", 12),
     Col("候補（MJ文字図形名）", 22, wrap=True), Col("候補の字形", 9), Col("状態", 10),
     Col("判定", 10, input=True, choices=GAIJI_CHOICES), Col("標準の文字", 10, input=True),
     Col("判定者", 18, input=True), Col("判定日", 13, input=True, date=True), Col("備考", 30, input=True, wrap=True)),
    key="外字コード")

RECON = Sheet(
    "突合結果", "突合結果（件数・人数・金額・区分別件数）",
    "現行と標準の件数・金額が一致しているかの結果です（記入は不要です）。",
    (Col("種類", 10), Col("対象", 60, wrap=True), Col("現行", 14), Col("標準", 14), Col("差", 12), Col("許容", 8),
     Col("結果", 10)))

RECORDS = Sheet(
    "対象レコード一覧", "対象レコード一覧（指摘のあるすべてのレコード、規則ごと）",
    "指摘のあるレコードを上限なくすべて載せています（内部キーと行番号のみ）。",
    (Col("現行ファイル", 18), Col("行番号", 9), Col("内部キー", 14), Col("指摘", 20, wrap=True), Col("重大度", 10),
     Col("標準テーブル", 16), Col("項目ID", 10), Col("項目名", 16, wrap=True), Col("内容", 14),
     Col("ギャップID", 34)))

INPUT_SHEETS = (SPEC, DATA, KEYS, MYNUMBER, GAIJI)
ALL_SHEETS = (SPEC, DATA, KEYS, MYNUMBER, GAIJI, RECON, RECORDS)
COVER = "表紙"
