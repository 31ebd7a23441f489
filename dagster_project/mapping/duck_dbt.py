"""dbt-duckdb plugin: the encrypted warehouse for dbt, with the key kept out of the profile.

The ``duckdb_encrypted`` target of ``dbt/profiles.yml`` attaches the warehouse file with no
options; this plugin adds the key from ``KIKAN_WAREHOUSE_KEY`` to that attachment when the
connection is made, and readies DuckDB to write encrypted pages (``duck.enable_encrypted_writes``)
before the attachment runs. The key is therefore in no file and not in ``dbt debug``'s output.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from dagster_project.core import duck


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        key = duck.encryption_key()
        if key is None:
            raise duck.WarehouseCryptoError(f"the duckdb_encrypted target needs {duck.KEY_ENV}")
        for att in creds.attach or []:
            if att.alias == duck.ALIAS:
                att.options = {**(att.options or {}), "encryption_key": key}

    def configure_connection(self, conn: Any) -> None:
        duck.enable_encrypted_writes(conn)
