"""The extract stage's writer: one system's extraction into the warehouse, in one transaction.

Its raw tables, its quarantine table and its rows of the shared bookkeeping tables
(``meta.extract_files``, ``meta.gaiji_usage``) are replaced together, and no other system's data is
touched (DESIGN.md principle 3). It lives beside the reader because it writes the reader's
frames (:class:`~dagster_project.extract.reader.FileExtract`, ``RawChunk``); the warehouse itself
(where it is, how it is opened and locked, the tables' names and DDL) stays in
:mod:`dagster_project.core.warehouse`, which imports no stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from dagster_project.core import faults
from dagster_project.core.duck import rollback
from dagster_project.core.names import quarantine_table, raw_table
from dagster_project.core.warehouse import (
    EXTRACT_FILES_DDL,
    EXTRACT_FILES_MIGRATIONS,
    GAIJI_USAGE_DDL,
    connect,
)
from dagster_project.extract.reader import GAIJI_USAGE_SCHEMA, QUARANTINE_SCHEMA, FileExtract, RawChunk


def write_system_extract(path: Path, system: str,
                         extracts: Iterable[FileExtract | RawChunk]) -> dict[str, tuple[int, int, int]]:
    """Write a system's extraction in one transaction; return, per table, (raw rows, quarantined
    rows, refused records) as the warehouse holds them once committed (read back on this
    connection).

    ``extracts`` is the system's files' extracts, or an iterator that reads the files while the
    writer writes (``extract.pipeline``): a file's raw rows may come first as :class:`RawChunk`
    (in order), then its extract. A file's rows are written two DuckDB row groups at a time as
    they come (DuckDB writes two row groups on two threads, and a part of a row group would be
    merged again), the rest with its extract; a file with fewer rows, or whose extract does not
    stand for the chunks written (refused after some were read), is written whole from its
    extract. Nothing of the system is committed unless all of it is."""
    step = 2 * 122_880           # two of DuckDB's row groups

    def write(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, append: bool) -> None:
        # one Arrow batch: DuckDB writes it fastest (at 817,000 residents 9.5 s for every raw
        # table against 13 s from the chunks as read)
        con.register("_frame", (frame.rechunk() if frame.n_chunks() > 1 else frame).to_arrow())
        try:
            con.execute(f'insert into raw."{table}" select * from _frame' if append
                        else f'create or replace table raw."{table}" as select * from _frame')
        finally:
            con.unregister("_frame")

    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    done: list[FileExtract] = []
    with connect(path) as con:
        con.execute("begin transaction")
        try:
            con.execute("create schema if not exists raw")
            con.execute("create schema if not exists meta")
            con.execute(EXTRACT_FILES_DDL)
            for migration in EXTRACT_FILES_MIGRATIONS:
                con.execute(migration)
            con.execute(GAIJI_USAGE_DDL)
            pending: dict[str, list[pl.DataFrame]] = {}   # table -> rows read, not yet written
            written: dict[str, int] = {}                   # table -> rows written from its chunks
            for item in extracts:
                if isinstance(item, RawChunk):
                    rows = pl.concat([*pending.get(item.table, []), item.frame], rechunk=False)
                    ready = rows.height // step * step
                    if ready:
                        write(con, raw_table(system, item.table), rows.slice(0, ready), append=item.table in written)
                        written[item.table] = written.get(item.table, 0) + ready
                    pending[item.table] = [rows.slice(ready)]
                    continue
                e = item
                rest = pl.concat(pending.pop(e.table, []) or [e.frame.head(0)], rechunk=False)
                if e.refused is None and e.table in written and written[e.table] + rest.height == e.frame.height:
                    if rest.height:
                        write(con, raw_table(system, e.table), rest, append=True)
                else:
                    write(con, raw_table(system, e.table), e.frame, append=False)
                done.append(e)
            faults.pause("extract")   # crash tests: killed here, nothing of this system is committed
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
                    for e in done
                ]
            )
            quarantine = pl.concat([e.quarantine for e in done]) if done else pl.DataFrame(schema=QUARANTINE_SCHEMA)
            usage = pl.concat([e.gaiji_usage for e in done]) if done else pl.DataFrame(schema=GAIJI_USAGE_SCHEMA)
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
        # the committed state, read back (the conservation check's raw and quarantined counts)
        quarantined = dict(con.execute(
            f'select table_name, count(*) from raw."{quarantine_table(system)}" group by table_name').fetchall())
        refused = dict(con.execute(
            "select table_name, coalesce(sum(refused_records), 0) from meta.extract_files where system = ? "
            "group by table_name", [system]).fetchall())
        return {e.table: (int(con.execute(f'select count(*) from raw."{raw_table(system, e.table)}"').fetchone()[0]),
                          int(quarantined.get(e.table, 0)), int(refused.get(e.table, 0)))
                for e in done}
