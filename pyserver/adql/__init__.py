"""ADQL 2.1 for the TAP service: a sqlglot dialect, the TAP_SCHEMA catalog, the translator."""

from .catalog import Catalog, Column, Table, load_catalog, load_catalog_async
from .translate import AdqlError, OutputColumn, Translation, translate

__all__ = ["AdqlError", "Catalog", "Column", "OutputColumn", "Table", "Translation",
           "load_catalog", "load_catalog_async", "translate"]
