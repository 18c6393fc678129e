"""The results store: one SQLite file per machine, one row per measurement, mergeable.

Schema versioned with ``PRAGMA user_version`` (``SCHEMA_VERSION``); an older file is migrated on
open, a newer one is refused rather than misread. The journal is WAL and every row is written in
its own ``BEGIN IMMEDIATE`` transaction with a busy timeout (an import writes its rows in one),
so several benchmark processes can write to one file at once without losing rows. Raw
per-iteration samples are stored (JSON) next to the statistics, so any statistic can be
recomputed later.

No torch here: reports and ``litevid results`` read the store without importing model code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import typing
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .measurement import ROW_TYPES, Measurement, Row, sql_columns

__all__ = ["COLUMN_NAMES", "JSON_COLUMNS", "SCHEMA_HISTORY", "SCHEMA_VERSION", "ResultStore"]

# What each schema version added. Changes are additive (new tables, new nullable columns), so a
# file of any older version is upgraded on open by creating what the row types declare and it
# lacks (``_upgrade``); ``MIGRATIONS`` holds extra SQL a version needs beyond that.
SCHEMA_HISTORY: dict[int, str] = {
    1: "measurements: latency rows of litevid bench",
    2: "columns generated from results.measurement row types; measurements.breakdown_ms (JSON "
       "stage times of loader and end-to-end rows) and cpu_s (process CPU time while timed)",
    3: "evaluations: accuracy rows of litevid train / eval (results.measurement.Evaluation)",
    4: "measurements.runtime: what executed the timed step (eager, onnxruntime, executorch, "
       "torchscript-lite, coreml, or an imported phone runtime name); older rows are eager",
    5: "measurements.optimized (the litevid.optimize form was timed; older rows: the plain model) "
       "and measurements.profile (JSON top operators by self time, litevid bench --profile)",
    6: "measurements.pass_errors (JSON: a memory or profile pass that failed after the timing, "
       "which the row keeps)",
    7: "evaluations.clips_total, failed_clips (JSON: clips not read, so not scored, with the "
       "reason) and clip_warnings (JSON: clips scored from a file cut short)",
}
SCHEMA_VERSION = max(SCHEMA_HISTORY)
# MIGRATIONS[v]: SQL run when upgrading to version v, after the missing columns were added.
MIGRATIONS: dict[int, list[str]] = {
    # Before v4 every row was timed in eager PyTorch: say so in the file itself, so any reader
    # (sqlite3, pandas) sees 'eager' rather than NULL.
    4: ["UPDATE measurements SET runtime = 'eager' WHERE runtime IS NULL"],
    5: ["UPDATE measurements SET optimized = 0 WHERE optimized IS NULL"],
}

_TABLES: dict[str, type[Row]] = {t.TABLE: t for t in ROW_TYPES}
_COLUMNS = {name: sql_columns(t) for name, t in _TABLES.items()}
_JSON = {name: tuple(c for c, _, js in cols if js) for name, cols in _COLUMNS.items()}
_BOOL = {name: tuple(f.name for f in dataclasses.fields(t)
                     if typing.get_type_hints(t)[f.name] is bool) for name, t in _TABLES.items()}
# A dict row that lacks a field gets the field's default, as the dataclass would (runtime
# 'eager', created_at now); a missing NOT NULL column is an error, never a silently ignored row.
_DEFAULTS = {name: {f.name: (f.default if f.default is not dataclasses.MISSING
                             else f.default_factory)  # type: ignore[misc]
                    for f in dataclasses.fields(t)
                    if f.default not in (dataclasses.MISSING, None)
                    or f.default_factory is not dataclasses.MISSING}  # type: ignore[misc]
             for name, t in _TABLES.items()}
_NOT_NULL = {name: tuple(c for c, decl, _ in cols if "NOT NULL" in decl)
             for name, cols in _COLUMNS.items()}
# The measurements table's columns, in export order.
COLUMN_NAMES = tuple(c for c, _, _ in _COLUMNS[Measurement.TABLE])
JSON_COLUMNS = _JSON[Measurement.TABLE]


def _table_sql(table: str) -> list[str]:
    cols = ",\n  ".join(f"{name} {decl}" for name, decl, _ in _COLUMNS[table])
    index = ", ".join(_TABLES[table].INDEX)
    return [f"CREATE TABLE IF NOT EXISTS {table} (\n  id INTEGER PRIMARY KEY,\n  {cols}\n)",
            f"CREATE INDEX IF NOT EXISTS {table}_group ON {table} ({index})"]


def _upgrade(conn: sqlite3.Connection, from_version: int) -> None:
    """Bring a file to ``SCHEMA_VERSION``: create missing tables and add missing columns."""
    for table in _TABLES:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            for sql in _table_sql(table):
                conn.execute(sql)
            continue
        for name, decl, _ in _COLUMNS[table]:
            if name not in have:  # added after this file was made: nullable, no constraint
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl.split()[0]}")
    for v in range(from_version + 1, SCHEMA_VERSION + 1):
        for sql in MIGRATIONS.get(v, []):
            conn.execute(sql)


class ResultStore:
    """A results database file (created on first use).

    Use as a context manager or call ``close()``. ``busy_timeout_s`` is how long a writer waits
    for another process's transaction before giving up.
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0,
                 readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            if not self.path.is_file():
                raise FileNotFoundError(f"{self.path}: no such results database")
            uri = f"file:{self.path.resolve()}?mode=ro"
            self.conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s,
                                        isolation_level=None)
        else:
            if self.path.parent and not self.path.parent.exists():
                raise FileNotFoundError(f"{self.path}: directory {self.path.parent} does not exist")
            self.conn = sqlite3.connect(str(self.path), timeout=busy_timeout_s,
                                        isolation_level=None)  # we issue BEGIN ourselves
        self.conn.row_factory = sqlite3.Row
        try:
            self._open(readonly)
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise ValueError(f"{self.path}: not a litevid results database ({exc})") from None

    def _open(self, readonly: bool) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValueError(f"{self.path}: schema version {version} is newer than this "
                             f"litevid understands ({SCHEMA_VERSION}); upgrade litevid")
        tables = {r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == 0 and tables and "measurements" not in tables:
            raise ValueError(f"{self.path}: an SQLite file, but not a litevid results database")
        if readonly:
            if "measurements" not in tables:
                raise ValueError(f"{self.path}: not a litevid results database (no measurements)")
            if version < SCHEMA_VERSION:
                # Read an upgraded copy in memory; the file stays as it is (a reader must not
                # migrate someone's database, and may have no write access to it).
                memory = sqlite3.connect(":memory:", isolation_level=None)
                self.conn.backup(memory)
                self.conn.close()
                self.conn = memory
                self.conn.row_factory = sqlite3.Row
                _upgrade(self.conn, version)
                self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if version == SCHEMA_VERSION:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]  # re-read, locked
            _upgrade(self.conn, version)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # ---- writing ------------------------------------------------------------------------------

    @staticmethod
    def _encode(row: Row | dict[str, Any], table: str) -> dict[str, Any]:
        values = row.to_dict() if isinstance(row, Row) else dict(row)
        values.pop("id", None)
        names = [c for c, _, _ in _COLUMNS[table]]
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"unknown result column(s): {', '.join(sorted(unknown))}")
        out = {name: values.get(name) for name in names}
        for name, default in _DEFAULTS[table].items():
            if name not in values:
                out[name] = default() if callable(default) else default
        missing = [name for name in _NOT_NULL[table] if out[name] is None and name != "uid"]
        if missing:  # INSERT OR IGNORE would skip the row without a word
            raise ValueError(f"{table} row without {', '.join(missing)}")
        for name in _JSON[table]:
            if out[name] is not None and not isinstance(out[name], str):
                out[name] = json.dumps(out[name])
        for name in _BOOL[table]:
            if isinstance(out[name], bool):
                out[name] = int(out[name])
        return out

    def insert(self, row: Row | dict[str, Any]) -> bool:
        """Write one row in its own transaction; False when a row with its ``uid`` exists."""
        return self.insert_many([row]) == 1

    def insert_many(self, rows: Iterable[Row | dict[str, Any]],
                    table: str = Measurement.TABLE, *, atomic: bool = False) -> int:
        """Write rows; returns how many were new (a row whose ``uid`` exists is skipped).

        By default each row is its own transaction (a crash loses at most the row being
        written); ``atomic=True`` writes all rows in one transaction, so either all of them are
        stored or, on any error, none. A ``Row`` goes to its own table; a plain dict (a decoded
        row) to ``table``.
        """
        if atomic:
            rows = list(rows)  # encode everything before the transaction starts
            return self._write([self._insert_args(r, table) for r in rows])
        return sum(self._write([self._insert_args(r, table)]) for r in rows)

    def _insert_args(self, row: Row | dict[str, Any], table: str) -> tuple[str, dict[str, Any]]:
        name = row.TABLE if isinstance(row, Row) else table
        enc = self._encode(row, name)
        enc["uid"] = enc["uid"] or uuid.uuid4().hex
        cols = ", ".join(enc)
        sql = (f"INSERT OR IGNORE INTO {name} ({cols}) "
               f"VALUES ({', '.join(':' + c for c in enc)})")
        return sql, enc

    def _write(self, statements: list[tuple[str, dict[str, Any]]]) -> int:
        """Run INSERT statements in one ``BEGIN IMMEDIATE`` transaction; rows added."""
        added = 0
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, values in statements:
                added += self.conn.execute(sql, values).rowcount
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return added

    def merge(self, other: str | Path | ResultStore) -> tuple[int, int]:
        """Copy every row of every table of another store into this one; returns (added,
        already present). Rows are identified by ``uid``, so merging a file twice adds nothing.

        ``other`` is a path, or a store the caller opened (read-only) before this one, so that a
        missing or foreign source fails before the target file is created.
        """
        source = other.path if isinstance(other, ResultStore) else Path(other)
        if source.resolve() == self.path.resolve():
            raise ValueError(f"{source}: cannot merge a results database into itself")
        added = total = 0
        opened = (contextlib.nullcontext(other) if isinstance(other, ResultStore)
                  else ResultStore(other, readonly=True))
        with opened as src:
            for table in _TABLES:
                rows = list(src.rows(table=table, decode=False))
                added += self.insert_many(rows, table=table)
                total += len(rows)
        return added, total - added

    # ---- reading ------------------------------------------------------------------------------

    def rows(self, *, table: str = Measurement.TABLE, decode: bool = True,
             **where: Any) -> Iterator[dict[str, Any]]:
        """Rows of ``table`` in insertion order, optionally filtered by equality
        (``mode="single"``); JSON columns decoded unless ``decode=False``."""
        if table not in _TABLES:
            raise ValueError(f"unknown results table {table!r} ({', '.join(_TABLES)})")
        names = [c for c, _, _ in _COLUMNS[table]]
        bad = set(where) - set(names)
        if bad:
            raise ValueError(f"unknown result column(s): {', '.join(sorted(bad))}")
        clause = " AND ".join(f"{k} = :{k}" for k in where)
        sql = f"SELECT {', '.join(names)} FROM {table}"
        sql += f" WHERE {clause}" if clause else ""
        for r in self.conn.execute(sql + " ORDER BY id", where):
            row = dict(r)
            if decode:
                for name in _JSON[table]:
                    if row[name] is not None:
                        row[name] = json.loads(row[name])
            yield row

    def count(self, table: str = Measurement.TABLE) -> int:
        if table not in _TABLES:
            raise ValueError(f"unknown results table {table!r} ({', '.join(_TABLES)})")
        return self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
