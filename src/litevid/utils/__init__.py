"""Small torch-free helpers every job shares: atomic file writes and the console."""

from .console import JobProgress, is_terminal, make_console
from .io import atomic_open, atomic_write, write_json

__all__ = ["JobProgress", "atomic_open", "atomic_write", "is_terminal", "make_console", "write_json"]
