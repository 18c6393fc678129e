"""Subprocess entry of the benchmark: ``python -m litevid.bench.worker`` (internal).

Reads one job (JSON) on stdin, measures it with ``runner.run_job`` and prints protocol lines on
stdout: progress events (throttled to 10 per second) and finally the result row. With
``--env DEVICE`` it prints only the environment record.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .runner import WORKER_MARK, Job, run_job


def _emit(msg: dict[str, Any]) -> None:
    sys.stdout.write(WORKER_MARK + json.dumps(msg) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--env"]:
        from ..devices import get_backend

        _emit({"event": "env", "env": get_backend(argv[1] if len(argv) > 1 else "cpu")
               .environment()})
        return 0
    job = Job.from_dict(json.loads(sys.stdin.read()))
    last = [0.0, ""]

    def progress(phase: str, n: int, total: int | None) -> None:
        now = time.monotonic()
        if phase != last[1] or now - last[0] >= 0.1:
            last[0], last[1] = now, phase
            _emit({"event": "progress", "phase": phase, "n": n, "total": total})

    row = run_job(job, progress)
    _emit({"event": "result", "row": row.to_dict()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
