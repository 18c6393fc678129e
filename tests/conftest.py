"""Shared test settings: deterministic, and small enough for a 2-core CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Under pytest-xdist (the README's `-n auto`), the workers share the cores: each gets its part of
# the threads, so two workers on 2 cores do not run 4 OpenMP threads that wait on each other.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _WORKERS))

# ../shared/data beside the project root (read-only real files); tests skip when it is absent.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
