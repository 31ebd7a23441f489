"""dbt-duckdb plugin: dbt's connection to the warehouse named by ``KIKAN_WAREHOUSE``, encrypted
when ``KIKAN_WAREHOUSE_KEY`` is set, with neither the path nor the key in the profile.

``dbt/profiles.yml`` opens an in-memory DuckDB and attaches the warehouse under the fixed name
``warehouse``; this plugin puts the real file in place of that attachment's placeholder path
when the connection is made (and the key, readying DuckDB to write encrypted pages first).

Why not ``path: "{{ env_var('KIKAN_WAREHOUSE') }}"`` in the profile: dbt hashes the profile's
connection settings into its parse state and re-parses the whole project (every model and test,
7-8 s on 2 cores) when they differ from the last parse's. Every rehearsal on another warehouse
(each benchmark run, each test's city, a second city) paid that. With the path and the key left
out of the profile, a parse is valid for any warehouse, and ``--partial-parse`` keeps it.
The database is ``warehouse`` whatever the file is called, as the Python side attaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from dagster_project.core import duck
from dagster_project.core.settings import settings

PLACEHOLDER = "KIKAN_WAREHOUSE"   # the attachment's path in dbt/profiles.yml


class Plugin(BasePlugin):
    def update_connection_config(self, creds: Any, config: dict[str, Any]) -> None:
        # the one place that sets it is Settings.dbt_env; dbt by hand without it stops here
        path = settings().warehouse
        if path is None:
            raise RuntimeError(
                "KIKAN_WAREHOUSE is not set: dbt needs the warehouse file (kikan run sets it)")
        path = str(Path(path).resolve())
        key = duck.encryption_key()
        read_only = settings().dbt_read_only    # dbt docs generate: reads beside other readers
        for att in creds.attach or []:
            if att.alias == duck.ALIAS:
                att.path = path
                att.read_only = read_only
                if key is not None:
                    att.options = {**(att.options or {}), "encryption_key": key}
        # spill beside the warehouse, as DuckDB does for a file it opened itself (the in-memory
        # main database would spill into dbt's working folder)
        config.setdefault("temp_directory", path + ".tmp")
        # the build's share of the machine (KIKAN_DBT_MEMORY_LIMIT): DuckDB's own default is 80 %
        # of RAM, and the benchmark's process tree peaked at 5 GiB in the 817,000-resident build
        limit = settings().dbt_memory_limit
        if limit:
            config.setdefault("memory_limit", limit)
        self._encrypted = key is not None

    def configure_connection(self, conn: Any) -> None:
        if getattr(self, "_encrypted", False):
            duck.enable_encrypted_writes(conn)
