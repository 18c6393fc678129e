"""Shared test settings: deterministic, and small enough for a 2-core CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# ../shared/data beside the project root (read-only real files); tests skip when it is absent.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
