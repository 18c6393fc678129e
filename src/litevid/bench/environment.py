"""The environment of the benchmark's child processes (workers, the export child of runtime
rows): this litevid importable, and on Linux the glibc malloc settings of
``devices.host.ALLOCATOR_ENV`` unless the user chose their own.

What a row records about where it was measured is the device backend's
``environment()`` (``litevid.devices``).
"""

from __future__ import annotations

import os
import sys

__all__ = ["worker_env"]


def worker_env() -> dict[str, str]:
    """``os.environ`` for a child process that measures: litevid's source on ``PYTHONPATH`` (also
    from a source tree without install) and the allocator settings (Linux)."""
    from ..devices.host import ALLOCATOR_ENV

    env = dict(os.environ)
    if sys.platform.startswith("linux"):
        for key, value in ALLOCATOR_ENV.items():
            env.setdefault(key, value)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env
