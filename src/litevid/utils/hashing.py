"""The sha256 of a file (or of a package folder): one definition for checkpoints, annotation
files, exported artefacts and inspected weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256", "text_sha256"]


def text_sha256(text: str) -> str:
    """Hex sha256 of a text's UTF-8 bytes (a study file, a preset)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes; of a folder (e.g. a Core ML ``.mlpackage``), of its files'
    relative names and contents in sorted order."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        if f != path:
            h.update(str(f.relative_to(path)).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()
