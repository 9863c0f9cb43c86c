"""DuckDB: one in-memory connection per run with the mozfun ports, a fresh database per test."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from gecko_trace_check import udfs
from gecko_trace_check.errors import InputError
from gecko_trace_check.run.tables import ColumnType, duckdb_structure, prepare_rows
from gecko_trace_check.run.translate import ROUTINES, TableId, duckdb_schema

INSTALL_HINT = "pip install 'gecko-trace-check[run]'"


class QueryError(Exception):
    """DuckDB refused or failed the query: the test fails with this message."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    types: list[str]  # DuckDB type names: JSON, DATE, TIMESTAMP WITH TIME ZONE, ...
    rows: list[tuple[Any, ...]]


def require_duckdb() -> ModuleType:
    """The duckdb module, or the one-line install hint (exit 2) when the extra is missing."""
    try:
        duckdb = importlib.import_module("duckdb")
    except ImportError:
        raise InputError(f"duckdb is not installed: {INSTALL_HINT}") from None
    # DuckDB's Python functions (create_function) need numpy, even for plain values.
    try:
        importlib.import_module("numpy")
    except ImportError:
        raise InputError(f"numpy is not installed (DuckDB needs it to call Python functions): {INSTALL_HINT}") from None
    return duckdb


def _build_root_span(spans: list[str] | None) -> str | None:
    tree = udfs.build_root_span(spans)
    return None if tree is None else json.dumps(tree, ensure_ascii=False)


def _calculate_signature(root_span: str | None) -> str:
    return udfs.calculate_signature(root_span)


def connect(duckdb: ModuleType) -> Any:
    """One in-memory DuckDB for the run, on UTC (so DATE(timestamp) is BigQuery's), with the ports."""
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'").fetchall()
    json_type = duckdb.sqltype("JSON")
    connection.create_function(
        ROUTINES["mozfun.gecko_trace.build_root_span"],
        _build_root_span,
        [duckdb.sqltype("VARCHAR[]")],
        json_type,
        null_handling="special",
    )
    connection.create_function(
        ROUTINES["mozfun.gecko_trace.calculate_signature"],
        _calculate_signature,
        [json_type],
        duckdb.sqltype("VARCHAR"),
        null_handling="special",  # production returns "" for NULL, not NULL
    )
    return connection


@contextmanager
def fresh_database(connection: Any, name: str) -> Iterator[None]:
    """A new empty in-memory database for one test: no table leaks into the next test.

    Attaching is much cheaper than connecting again, and keeps the registered functions.
    """
    database = _quote(name)
    connection.execute(f"ATTACH ':memory:' AS {database}").fetchall()
    connection.execute(f"USE {database}").fetchall()
    try:
        yield
    finally:
        connection.execute("USE memory").fetchall()
        connection.execute(f"DETACH {database}").fetchall()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_table(connection: Any, table: TableId, columns: dict[str, ColumnType], rows: Sequence[dict[str, Any]]) -> None:
    """Create the table from the rows; raises RowError or duckdb.Error on rows that don't fit."""
    schema = _quote(duckdb_schema(table))
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}").fetchall()
    structure = json.dumps(duckdb_structure(columns))
    # json_transform_strict types every value by the schema and refuses what doesn't fit.
    connection.execute(
        f"CREATE TABLE {schema}.{_quote(table[2])} AS "
        "SELECT UNNEST(json_transform_strict(row_json, $structure)) "
        "FROM (SELECT UNNEST(CAST($rows AS JSON[])) AS row_json)",
        {"structure": structure, "rows": prepare_rows(rows, columns)},
    ).fetchall()


def run(duckdb: ModuleType, connection: Any, sql: str) -> Result:
    try:
        cursor = connection.execute(sql)
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        raise QueryError(str(exc).strip().splitlines()[0]) from None
    description = cursor.description or []
    return Result([column[0] for column in description], [str(column[1]) for column in description], rows)
