"""The DuckDB warehouse: where it is, and the one writer of the raw layer.

DuckDB admits one writer process at a time (STACK.md), so every write goes through a
file lock beside the database and connections are closed straight after use. A system's
extraction is written in one transaction: its raw tables, its quarantine table and its
rows of the shared bookkeeping tables are replaced together, and no other system's data is
touched (DESIGN.md principle 3).
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
from filelock import FileLock

from dagster_project.core.diskspace import DiskFull, is_disk_full
from dagster_project.core.duck import checkpoint, open_warehouse, rollback
from dagster_project.core import faults
from dagster_project.core.settings import default_legacy_dir, default_reports_dir, default_var_dir, default_warehouse_path  # noqa: F401 (re-exported)
from dagster_project.extract.reader import GAIJI_USAGE_SCHEMA, QUARANTINE_SCHEMA, FileExtract


def raw_table(system: str, table: str) -> str:
    return f"{system}__{table}"


def quarantine_table(system: str) -> str:
    return f"{system}__quarantine"


EXTRACT_FILES_DDL = """
create table if not exists meta.extract_files (
    system varchar, table_name varchar, file_name varchar, file_sha256 varchar,
    file_bytes bigint, records_in_file bigint, raw_rows bigint, quarantined bigint,
    header_lines integer, eof_marker boolean, crlf_lines bigint, lf_lines bigint,
    extracted_at timestamp, refused varchar, refused_records bigint
)"""
# records_in_file = raw_rows + quarantined + refused_records: a refused file's records are counted
# from its bytes and stand in refused_records (0 for an accepted file)
EXTRACT_FILES_MIGRATIONS = (
    "alter table meta.extract_files add column if not exists refused varchar",
    "alter table meta.extract_files add column if not exists refused_records bigint",
)
GAIJI_USAGE_DDL = """
create table if not exists meta.gaiji_usage (
    system varchar, table_name varchar, field_name varchar, sjis_code varchar, pua varchar,
    in_vendor_table boolean, juki_code varchar, koseki_no varchar, substituted_with varchar,
    occurrences bigint, records bigint, sample_record_nos varchar
)"""


@contextmanager
def connect(path: Path, read_only: bool = False):
    path = Path(path)
    if read_only:
        con = open_warehouse(path, read_only=True)
        try:
            yield con
        finally:
            con.close()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        con = open_warehouse(path)
        try:
            yield con
            checkpoint(con, path)      # a checkpoint that fails is an error, not a silent close
        except duckdb.Error as exc:
            if is_disk_full(exc):      # said as such, with the path and the space needed
                raise DiskFull.at(path) from None
            raise
        finally:
            con.close()


def write_system_extract(path: Path, system: str, extracts: list[FileExtract]) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    files = pl.DataFrame(
        [
            {
                "system": system, "table_name": e.table, "file_name": e.file_name,
                "file_sha256": e.sha256, "file_bytes": e.file_bytes,
                "records_in_file": e.records_in_file, "raw_rows": e.frame.height,
                "quarantined": e.quarantine.height, "header_lines": e.header_lines,
                "eof_marker": e.eof_marker, "crlf_lines": e.line_endings.get("crlf", 0),
                "lf_lines": e.line_endings.get("lf", 0), "extracted_at": now, "refused": e.refused,
                "refused_records": e.refused_records,
            }
            for e in extracts
        ]
    )
    quarantine = pl.concat([e.quarantine for e in extracts]) if extracts else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    usage = pl.concat([e.gaiji_usage for e in extracts]) if extracts else pl.DataFrame(schema=GAIJI_USAGE_SCHEMA)
    with connect(path) as con:
        con.execute("begin transaction")
        try:
            con.execute("create schema if not exists raw")
            con.execute("create schema if not exists meta")
            con.execute(EXTRACT_FILES_DDL)
            for migration in EXTRACT_FILES_MIGRATIONS:
                con.execute(migration)
            con.execute(GAIJI_USAGE_DDL)
            for e in extracts:
                con.register("_frame", e.frame.to_arrow())
                con.execute(f'create or replace table raw."{raw_table(system, e.table)}" as select * from _frame')
                con.unregister("_frame")
            faults.pause("extract")   # crash tests: killed here, nothing of this system is committed
            con.register("_q", quarantine.to_arrow())
            con.execute(f'create or replace table raw."{quarantine_table(system)}" as select * from _q')
            con.unregister("_q")
            con.execute("delete from meta.extract_files where system = ?", [system])
            con.register("_f", files.to_arrow())
            con.execute("insert into meta.extract_files by name select * from _f")
            con.unregister("_f")
            con.execute("delete from meta.gaiji_usage where system = ?", [system])
            if usage.height:
                con.register("_u", usage.to_arrow())
                con.execute("insert into meta.gaiji_usage by name select * from _u")
                con.unregister("_u")
            con.execute("commit")
        except Exception:
            rollback(con)
            raise


def table_counts(path: Path, system: str, table: str) -> tuple[int, int, int]:
    """(raw rows, quarantined rows, refused records) of one file as the warehouse holds them now."""
    with connect(path) as con:
        raw_n = con.execute(f'select count(*) from raw."{raw_table(system, table)}"').fetchone()[0]
        q_n = con.execute(
            f'select count(*) from raw."{quarantine_table(system)}" where table_name = ?', [table]
        ).fetchone()[0]
        refused_n = con.execute(
            "select coalesce(sum(refused_records), 0) from meta.extract_files where system = ? and table_name = ?",
            [system, table]).fetchone()[0]
    return int(raw_n), int(q_n), int(refused_n)
