"""The results store: one SQLite file per machine, one row per measurement, mergeable.

Schema versioned with ``PRAGMA user_version`` (``SCHEMA_VERSION``); an older file is migrated on
open, a newer one is refused rather than misread. The journal is WAL and every row is written in
its own ``BEGIN IMMEDIATE`` transaction with a busy timeout, so several benchmark processes can
write to one file at once without losing rows. Raw per-iteration samples are stored (JSON) next
to the statistics, so any statistic can be recomputed later.

No torch here: reports and ``litevid results`` read the store without importing model code.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any, Iterable, Iterator

__all__ = ["COLUMNS", "JSON_COLUMNS", "SCHEMA_VERSION", "ResultStore"]

SCHEMA_VERSION = 1

# (name, SQL type). The order is the column order of exports.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("uid", "TEXT NOT NULL UNIQUE"),  # random id: merging the same row twice is a no-op
    ("created_at", "TEXT NOT NULL"),  # ISO 8601, UTC
    ("model", "TEXT NOT NULL"),
    ("mode", "TEXT NOT NULL"),  # train | batch | single
    ("batch", "INTEGER"),  # batch measured
    ("requested_batch", "INTEGER"),  # batch asked for (differs only with --fit-batch)
    ("frames", "INTEGER"),
    ("size", "INTEGER"),
    ("input_shape", "TEXT"),  # C x T x H x W of one clip
    ("precision", "TEXT"),
    ("channels_last", "INTEGER"),
    ("compile", "INTEGER"),
    ("device_type", "TEXT"),
    ("device_name", "TEXT"),
    ("cpu_model", "TEXT"),
    ("hostname", "TEXT"),
    ("torch_version", "TEXT"),
    ("cuda_version", "TEXT"),
    ("cudnn_version", "TEXT"),
    ("num_threads", "INTEGER"),
    ("litevid_version", "TEXT"),
    ("git_rev", "TEXT"),
    ("status", "TEXT NOT NULL"),  # ok | oom | error: <message>
    ("n", "INTEGER"),
    ("mean_ms", "REAL"),
    ("median_ms", "REAL"),
    ("p90_ms", "REAL"),
    ("p99_ms", "REAL"),
    ("std_ms", "REAL"),
    ("iqr_ms", "REAL"),
    ("cv", "REAL"),
    ("min_ms", "REAL"),
    ("max_ms", "REAL"),
    ("timed_s", "REAL"),  # wall time of the timed loop
    ("timer", "TEXT"),  # cuda_event | perf_counter | synchronize+perf_counter
    ("compile_s", "REAL"),
    ("gflops", "REAL"),  # per step at this batch; 1 multiply-add = 1 FLOP; train = fwd + bwd
    ("tflops", "REAL"),  # gflops / median, same convention
    ("peak_mem_bytes", "INTEGER"),
    ("mem_kind", "TEXT"),  # what peak_mem_bytes is (see litevid.bench.memory)
    ("mem_detail", "TEXT"),  # JSON
    ("samples_ms", "TEXT"),  # JSON list of every timed iteration
    ("settings", "TEXT"),  # JSON: the resolved job (warm-up, stopping rule, seed, ...)
    ("env", "TEXT"),  # JSON: full environment record
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
JSON_COLUMNS = ("mem_detail", "samples_ms", "settings", "env")

# Migrations: MIGRATIONS[v] upgrades a file at version v to v + 1.
MIGRATIONS: dict[int, list[str]] = {}


def _create_sql() -> list[str]:
    cols = ",\n  ".join(f"{name} {typ}" for name, typ in COLUMNS)
    return [
        f"CREATE TABLE IF NOT EXISTS measurements (\n  id INTEGER PRIMARY KEY,\n  {cols}\n)",
        "CREATE INDEX IF NOT EXISTS measurements_group "
        "ON measurements (device_name, mode, model)",
    ]


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
                raise ValueError(f"{self.path}: schema version {version}; open it once "
                                 "read-write to migrate it")
            return
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if version == SCHEMA_VERSION:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]  # re-read, locked
            if version == 0:
                for sql in _create_sql():
                    self.conn.execute(sql)
            else:
                for v in range(version, SCHEMA_VERSION):
                    for sql in MIGRATIONS[v]:
                        self.conn.execute(sql)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    # ---- writing ------------------------------------------------------------------------------

    @staticmethod
    def _encode(row: dict[str, Any]) -> dict[str, Any]:
        unknown = set(row) - set(COLUMN_NAMES) - {"id"}
        if unknown:
            raise ValueError(f"unknown result column(s): {', '.join(sorted(unknown))}")
        out = {name: row.get(name) for name in COLUMN_NAMES}
        out["uid"] = out["uid"] or uuid.uuid4().hex
        for name in JSON_COLUMNS:
            if out[name] is not None and not isinstance(out[name], str):
                out[name] = json.dumps(out[name])
        for name in ("channels_last", "compile"):
            if isinstance(out[name], bool):
                out[name] = int(out[name])
        return out

    def insert(self, row: dict[str, Any]) -> bool:
        """Write one row in its own transaction; False when a row with its ``uid`` exists."""
        return self.insert_many([row]) == 1

    def insert_many(self, rows: Iterable[dict[str, Any]]) -> int:
        """Write rows, one transaction each (a crash loses at most the row being written)."""
        names = ", ".join(COLUMN_NAMES)
        marks = ", ".join(f":{n}" for n in COLUMN_NAMES)
        sql = f"INSERT OR IGNORE INTO measurements ({names}) VALUES ({marks})"
        added = 0
        for row in rows:
            enc = self._encode(row)
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                added += self.conn.execute(sql, enc).rowcount
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
        return added

    def merge(self, other: str | Path) -> tuple[int, int]:
        """Copy every row of another store into this one; returns (added, already present).

        Rows are identified by ``uid``, so merging the same file twice adds nothing.
        """
        if Path(other).resolve() == self.path.resolve():
            raise ValueError(f"{other}: cannot merge a results database into itself")
        with ResultStore(other, readonly=True) as src:
            rows = list(src.rows(decode=False))
        added = self.insert_many(rows)
        return added, len(rows) - added

    # ---- reading ------------------------------------------------------------------------------

    def rows(self, *, decode: bool = True, **where: Any) -> Iterator[dict[str, Any]]:
        """Rows in insertion order, optionally filtered by equality (``mode="single"``)."""
        bad = set(where) - set(COLUMN_NAMES)
        if bad:
            raise ValueError(f"unknown result column(s): {', '.join(sorted(bad))}")
        clause = " AND ".join(f"{k} = :{k}" for k in where)
        sql = f"SELECT {', '.join(COLUMN_NAMES)} FROM measurements"
        sql += f" WHERE {clause}" if clause else ""
        for r in self.conn.execute(sql + " ORDER BY id", where):
            row = dict(r)
            if decode:
                for name in JSON_COLUMNS:
                    if row[name] is not None:
                        row[name] = json.loads(row[name])
            yield row

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
