"""Builders of the checkpoint-parity fixtures, one module per model family (see
``tools/make_weight_fixtures.py``). Each module lists its fixtures in ``FIXTURES``."""
