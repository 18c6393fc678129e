"""Placeholder: this family is being written (see the issue that adds it)."""
