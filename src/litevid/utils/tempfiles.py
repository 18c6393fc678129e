"""Temporaries beside a target, and the clean-up of those a killed run left behind.

Every write that must be all-or-nothing (``utils.io.atomic_open``, an export, a report folder)
first writes a temporary named ``.{target name}.{pid}.{random}.tmp`` (a file, or a folder from
``make_temp_dir``) beside its target, then renames it into place. A run killed mid-write leaves
its temporary behind; the next write of the same target removes it
(``clean_stale_temporaries``), and the pid in the name says exactly whether its writer is gone.

A temporary of a live process is left alone, unless it is older than ``STALE_AFTER_S`` (its pid
was reused, e.g. after a reboot); one without a pid (``.{name}.{random}.tmp``, written by an older
litevid) goes once it is older than ``LEGACY_STALE_AFTER_S``. On a folder shared by several
machines, pids are judged by this machine's processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["LEGACY_STALE_AFTER_S", "STALE_AFTER_S", "clean_stale_temporaries", "make_temp_dir",
           "stale_temporaries", "temp_prefix"]

STALE_AFTER_S = 24 * 3600.0
LEGACY_STALE_AFTER_S = 3600.0


def temp_prefix(name: str) -> str:
    """The prefix of this process's temporaries for the target called ``name``."""
    return f".{name}.{os.getpid()}."


def make_temp_dir(target: str | os.PathLike) -> Path:
    """A new empty temporary folder beside ``target``, for a write of several files that is
    renamed into place at the end; stale temporaries of the same target are removed first."""
    target = Path(target)
    clean_stale_temporaries(target)
    return Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp",
                                 dir=target.parent))


def _pid_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) is no probe there: judged by age only
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: another user's live process
        return True
    return True


def stale_temporaries(target: str | os.PathLike, *, suffix: str = ".tmp") -> list[Path]:
    """The leftovers ``.{name}.{pid}.{random}{suffix}`` beside ``target`` whose writer is gone,
    oldest first; never this process's own."""
    target = Path(target)
    name, end = re.escape(target.name), re.escape(suffix)
    with_pid = re.compile(rf"\.{name}\.(\d+)\.[A-Za-z0-9_]+{end}")
    legacy = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}{end}")  # tempfile's 8 random characters
    now = time.time()
    found: list[tuple[float, Path]] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(f".{target.name}."):
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        m = with_pid.fullmatch(entry.name)
        if m:
            pid = int(m.group(1))
            if pid == os.getpid() or (_pid_alive(pid) and now - mtime < STALE_AFTER_S):
                continue
        elif not (legacy.fullmatch(entry.name) and now - mtime > LEGACY_STALE_AFTER_S):
            continue
        found.append((mtime, Path(entry.path)))
    return [p for _, p in sorted(found)]


def remove_path(path: Path) -> None:
    """Remove a file, link or folder tree; a missing one is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and folders that killed writers of ``target`` left beside it;
    returns them. Called at the start of every write (``atomic_open``, ``make_temp_dir``)."""
    removed = []
    for path in stale_temporaries(target):
        try:
            remove_path(path)
        except OSError:  # not ours to remove (permissions): leave it
            continue
        removed.append(path)
    return removed
