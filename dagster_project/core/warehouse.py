"""The DuckDB warehouse: where it is, how it is opened, and the raw layer's names and bookkeeping tables.

DuckDB admits one writer process at a time (STACK.md), so every write goes through a
file lock beside the database and connections are closed straight after use. A system's
extraction is written by the extract stage's writer (:mod:`dagster_project.extract.writer`) in
one transaction, through :func:`connect` and with the DDL kept here; this module imports no stage.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import duckdb
from filelock import FileLock

from dagster_project.core.diskspace import DiskFull, is_disk_full
from dagster_project.core.duck import checkpoint, open_warehouse
from dagster_project.core.settings import default_legacy_dir, default_reports_dir, default_var_dir, default_warehouse_path  # noqa: F401 (re-exported)


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


