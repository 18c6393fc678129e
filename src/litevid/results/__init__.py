"""The results store and what is computed from it; torch-free so reports can use it anywhere."""

from .export import export_rows
from .measurement import ROW_TYPES, Evaluation, Measurement, Row
from .query import cross_device_average, latest_ok, relative_latency
from .store import SCHEMA_VERSION, ResultStore

__all__ = ["Evaluation", "Measurement", "ROW_TYPES", "ResultStore", "Row", "SCHEMA_VERSION",
           "cross_device_average", "export_rows", "latest_ok", "relative_latency"]
