"""Opening the warehouse file, encrypted at rest when a key is given.

``KIKAN_WAREHOUSE_KEY`` set: the warehouse is a DuckDB encrypted database (AES-GCM, DuckDB ≥ 1.4):
every connection of this project (the pipeline, dbt through its profile, Great Expectations,
reports, gates, exports) attaches it with the key, and the file cannot be opened without it.
Unset: a plain DuckDB file, as before. The key comes only from the environment (a secret store
or the service manager puts it there); it is never written to a file, a log or event metadata.

DuckDB writes encrypted files only with a cryptographically secure random source, which it
takes from its ``httpfs`` extension (OpenSSL); reading needs nothing more. Install the extension
once where extensions can be fetched (``INSTALL httpfs``), or copy ``httpfs.duckdb_extension``
into ``~/.duckdb/extensions/<duckdb version>/<platform>/``. Without it, writing refuses with a
message saying so. ``KIKAN_WAREHOUSE_CRYPTO_UNSAFE=1`` lets DuckDB use its built-in mbedtls
random source instead, which DuckDB itself calls not secure: for tests, never for a city's data.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.core.settings import settings
from dagster_project.core.diskspace import DiskFull, is_disk_full

KEY_ENV = "KIKAN_WAREHOUSE_KEY"
UNSAFE_ENV = "KIKAN_WAREHOUSE_CRYPTO_UNSAFE"
ALIAS = "warehouse"   # the database name of an attached (encrypted) warehouse, here and in dbt


class WarehouseCryptoError(RuntimeError):
    pass


def encryption_key() -> str | None:
    return settings().key


def _literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def enable_encrypted_writes(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("load httpfs")
        return
    except duckdb.Error:
        pass
    if settings().warehouse_crypto_unsafe:
        con.execute("set force_mbedtls_unsafe = true")
        return
    raise WarehouseCryptoError(
        f"{KEY_ENV} is set, but DuckDB can write an encrypted warehouse only with its httpfs extension "
        "(a secure random source), which is not installed: run `INSTALL httpfs` once where DuckDB "
        "extensions can be fetched, or copy httpfs.duckdb_extension into ~/.duckdb/extensions/")


def open_warehouse(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection whose current database is the warehouse, plain or encrypted."""
    key = encryption_key()
    if key is None:
        return duckdb.connect(str(path), read_only=read_only)
    con = duckdb.connect()
    try:
        if not read_only:
            enable_encrypted_writes(con)
        for q in attach_sql(path, read_only):
            con.execute(q)
        return con
    except BaseException:
        con.close()
        raise


class WarehouseWriteError(RuntimeError):
    """A write to the warehouse that did not reach the file (its text names the file, never a value)."""


def checkpoint(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Write the warehouse's log into the file now, and fail if that cannot be done.

    DuckDB checkpoints when the last connection closes, but a checkpoint that fails there (a full
    disk) is silent: close returns, the changes stay in the ``.wal`` beside the file, and nothing
    says so. An explicit ``CHECKPOINT`` before closing raises instead (DuckDB invalidates the
    database after a failed checkpoint; the committed changes are still in the log and are
    replayed when the file is next opened)."""

    try:
        con.execute(f"checkpoint {ALIAS}" if encryption_key() is not None else "checkpoint")
    except duckdb.Error as exc:
        if is_disk_full(exc):
            raise DiskFull.at(path) from None
        raise WarehouseWriteError(
            f"倉庫のチェックポイントに失敗しました: {path}（{type(exc).__name__}） / "
            f"the warehouse could not be checkpointed: {path} ({type(exc).__name__})") from None


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if DuckDB has not ended it already: after a failed commit
    (a full disk) it has, and ``rollback`` would raise "cannot rollback - no transaction is
    active" over the error that matters."""
    try:
        con.execute("rollback")
    except duckdb.TransactionException:
        pass


def attach_sql(path: Path, read_only: bool) -> list[str]:
    """The statements that make an in-memory connection see the warehouse (for SQLAlchemy)."""
    opts = f"encryption_key {_literal(encryption_key() or '')}" + (", read_only" if read_only else "")
    return [f"attach {_literal(str(path))} as {ALIAS} ({opts})", f"use {ALIAS}"]
