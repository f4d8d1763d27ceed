"""What ADQL may name: the tables and columns TAP_SCHEMA publishes, read from the database."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg


@dataclass(frozen=True)
class Column:
    """A published column: its TAP_SCHEMA name and description, and its PostgreSQL name."""

    published: str  # as TAP_SCHEMA spells it, e.g. observationID
    sql_name: str  # the PostgreSQL column, e.g. observationid
    datatype: str
    arraysize: str | None = None
    xtype: str | None = None
    unit: str | None = None
    ucd: str | None = None
    utype: str | None = None
    description: str | None = None


@dataclass
class Table:
    """A published table and its columns, keyed by lower-cased published name."""

    published: str  # e.g. ivoa.ObsCore
    schema: str  # PostgreSQL schema, e.g. ivoa
    sql_name: str  # PostgreSQL relation, e.g. obscore
    columns: dict[str, Column] = field(default_factory=dict)


@dataclass
class Catalog:
    """The published tables, found by schema-qualified or (when unambiguous) bare name."""

    tables: dict[str, Table] = field(default_factory=dict)  # 'ivoa.obscore' -> Table

    def find(self, name: str, schema: str | None) -> Table | None:
        """The table `schema.name`, or `name` alone when only one schema has it."""
        if schema:
            return self.tables.get(f"{schema}.{name}".lower())
        matches = [t for key, t in self.tables.items() if key.rsplit(".", 1)[-1] == name.lower()]
        return matches[0] if len(matches) == 1 else None


TABLES_SQL = "SELECT table_name FROM tap_schema.tables"
COLUMNS_SQL = ("SELECT table_name, column_name, datatype, arraysize, xtype, unit, ucd, utype,"
               " description FROM tap_schema.columns ORDER BY table_name, column_index, column_name")


def catalog_from_rows(table_rows: list[tuple], column_rows: list[tuple]) -> Catalog:
    """A Catalog from the rows of TABLES_SQL and COLUMNS_SQL."""
    catalog = Catalog()
    for (name,) in table_rows:
        schema, _, relation = name.partition(".")
        catalog.tables[name.lower()] = Table(name, schema.lower(), relation.lower())
    for row in column_rows:
        table = catalog.tables.get(row[0].lower())
        if table is not None:
            bare = row[1].strip('"').lower()  # "size" is published delimited
            table.columns[bare] = Column(row[1], bare, *row[2:])
    return catalog


def load_catalog(conn: psycopg.Connection) -> Catalog:
    """Read tap_schema.tables and tap_schema.columns into a Catalog."""
    return catalog_from_rows(conn.execute(TABLES_SQL).fetchall(),
                             conn.execute(COLUMNS_SQL).fetchall())


async def load_catalog_async(conn: psycopg.AsyncConnection) -> Catalog:
    """load_catalog on an asynchronous connection."""
    tables = await (await conn.execute(TABLES_SQL)).fetchall()
    columns = await (await conn.execute(COLUMNS_SQL)).fetchall()
    return catalog_from_rows(tables, columns)
