"""Output paths checked before any work: one line naming the flag, the path and the problem.

A command that writes a file or a folder calls these first, so an unwritable ``--db``, ``--out``
or ``--json`` is refused before a model is built or a dataset read, rather than after the run
(and never as a traceback or a message naming a temporary file). Nothing is created: a folder
that does not exist yet only has to be creatable. Errors are ``ValueError`` /
``FileNotFoundError``, which ``litevid.cli.main`` prints as ``litevid CMD: error: ...``.

Permission checks use ``os.access``, so they follow the real user's rights (root passes them).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_results_db", "check_writable_dir", "check_writable_file"]


def _folder_problem(folder: Path) -> str | None:
    """Why files cannot be created in ``folder`` (which should exist), or ``None``."""
    if not folder.exists():
        return f"directory {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a directory"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"directory {folder} is not writable"
    return None


def _fail(flag: str, path: str | os.PathLike, problem: str, missing: bool = False) -> None:
    error = FileNotFoundError if missing else ValueError
    raise error(f"{flag} {os.fspath(path)}: {problem}")


def check_writable_file(path: str | os.PathLike, flag: str) -> Path:
    """Check that ``path`` can be written as a file: its folder exists and is writable, and the
    file, if present, is a writable regular file (not a folder or a device).

    Args:
        path: the file the command will write (or replace atomically).
        flag: the option it came from, for the message (``--json``).

    Returns:
        ``path`` as a ``Path``.
    """
    p = Path(path)
    if p.is_dir():
        _fail(flag, path, "is a directory, not a file")
    if p.exists():
        if not p.is_file():
            _fail(flag, path, "is not a regular file")
        if not os.access(p, os.W_OK):
            _fail(flag, path, "is not writable")
    # the folder too: atomic writes put a temporary file beside the target, SQLite its journal
    problem = _folder_problem(p.parent)
    if problem:
        _fail(flag, path, problem, missing=not p.parent.exists())
    return p


def check_writable_dir(path: str | os.PathLike, flag: str) -> Path:
    """Check that ``path`` is a writable folder, or can be created: its nearest existing
    ancestor is a writable folder. Nothing is created.

    Args:
        path: the output folder.
        flag: the option it came from, for the message (``--out``).

    Returns:
        ``path`` as a ``Path``.
    """
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            _fail(flag, path, "exists and is not a directory")
        if not os.access(p, os.W_OK | os.X_OK):
            _fail(flag, path, "directory is not writable")
        return p
    ancestor = p.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        _fail(flag, path, f"cannot create the folder: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        _fail(flag, path, f"cannot create the folder: directory {ancestor} is not writable")
    return p


def check_results_db(path: str | os.PathLike, flag: str) -> Path:
    """``check_writable_file``, and an existing file must be a results store this version can
    write (a foreign or newer file is refused before the run, not after it). The file is only
    read: an older schema, which the run will migrate, passes."""
    import sqlite3

    from ..results.store import SCHEMA_VERSION

    p = check_writable_file(path, flag)
    if not p.exists() or p.stat().st_size == 0:
        return p
    # immutable: no lock, no -shm/-wal files beside it; the header and the table names suffice
    conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        _fail(flag, path, f"not a litevid results database ({exc})")
    finally:
        conn.close()
    if version > SCHEMA_VERSION:
        _fail(flag, path, f"schema version {version} is newer than this litevid understands "
              f"({SCHEMA_VERSION}); upgrade litevid")
    if tables and "measurements" not in tables:
        _fail(flag, path, "an SQLite file, but not a litevid results database")
    return p
