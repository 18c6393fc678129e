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
TESTS = Path(__file__).resolve().parent
TINY_TRAIN = "_litevid_tiny_train"  # tests/_litevid_tiny_train.py: tiny registered models


@pytest.fixture(scope="module")
def tiny():
    """Register the tiny models of ``tests/_litevid_tiny_train.py`` for a test module; remove
    them afterwards (the registry-driven tests see only the real models)."""
    import importlib
    import sys

    from litevid.models import _registry

    sys.path.insert(0, str(TESTS))
    module = importlib.import_module(TINY_TRAIN)
    try:
        yield
    finally:
        sys.modules.pop(TINY_TRAIN, None)
        for name in module.NAMES:
            _registry._REGISTRY.pop(name, None)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
