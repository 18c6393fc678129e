"""The export matrix: which registered model exports to which format, as measured.

``litevid export --all --format F --update-matrix`` exports every model, checks parity and
writes the outcome per model into ``models/export_matrix.json`` (a model list updates only its
entries) (``ok``, or ``error: <reason>``),
with the input shape, tool versions and date. The model registry reads that file to fill
``ModelSpec.export`` (``True``/``False``; ``None`` where a format was never run), so the flags
are never written by hand; the tests re-export a subset and compare with the file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..models._registry import EXPORT_MATRIX_PATH

__all__ = ["EXPORT_MATRIX_PATH", "read_matrix", "update_matrix"]


def read_matrix(path: str | Path = EXPORT_MATRIX_PATH) -> dict[str, Any]:
    """The stored matrix (``{"formats": {format: {"models": {name: status}, ...}}}``)."""
    path = Path(path)
    if not path.is_file():
        return {"formats": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def update_matrix(fmt: str, outcomes: dict[str, str], *, input_shape: str,
                  tools: dict[str, Any], path: str | Path = EXPORT_MATRIX_PATH) -> None:
    """Set the entries of ``outcomes`` (model -> ``ok`` / ``error: ...``) in the column of
    ``fmt``; other models' entries stay."""
    from ..utils.io import write_json

    matrix = read_matrix(path)
    column = matrix.setdefault("formats", {}).get(fmt, {})
    matrix["formats"][fmt] = {
        "input": input_shape, "date": time.strftime("%Y-%m-%d", time.gmtime()), "tools": tools,
        "command": f"litevid export --all --format {fmt} --update-matrix",
        "models": dict(sorted({**column.get("models", {}), **outcomes}.items())),
    }
    matrix["formats"] = dict(sorted(matrix["formats"].items()))
    write_json(path, matrix)
