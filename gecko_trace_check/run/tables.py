"""Input tables: their column types and their fixture rows, made ready for DuckDB.

A column type is a small tree in BigQuery's terms: a type name (``"INT64"``), a dict of
field name -> type (a STRUCT/RECORD) or a one-item list (a REPEATED field / ARRAY). It
comes from a schema.yaml where there is one, else it is inferred from the fixture rows.
The rows go to DuckDB as JSON text and are typed there by ``json_transform_strict``, so
nested STRUCTs, ARRAYs and JSON columns need no hand-written conversions.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Union

ColumnType = Union[str, dict[str, "ColumnType"], list["ColumnType"]]

RECORD_TYPES = ("RECORD", "STRUCT")
# BigQuery's NUMERIC is DECIMAL(38, 9); sqlglot would leave DuckDB's default precision.
DUCKDB_OVERRIDES = {"NUMERIC": "DECIMAL(38, 9)", "BIGNUMERIC": "DECIMAL(38, 9)"}


class RowError(ValueError):
    """A fixture value that does not fit its column; the caller names the file."""


def from_schema(fields: Sequence[Mapping[str, Any]]) -> dict[str, ColumnType]:
    """schema.yaml ``fields`` -> column name -> type."""
    columns: dict[str, ColumnType] = {}
    for field in fields:
        kind = str(field["type"]).upper()
        column: ColumnType = from_schema(field.get("fields") or []) if kind in RECORD_TYPES else kind
        if str(field.get("mode", "NULLABLE")).upper() == "REPEATED":
            column = [column]
        columns[str(field["name"])] = column
    return columns


def _is_glean_object_metric(path: tuple[str, ...]) -> bool:
    """Glean stores ``object`` metrics as JSON in ``metrics.object.<name>``."""
    return len(path) == 3 and path[0] == "metrics" and path[1] == "object"


def _infer(value: Any, path: tuple[str, ...]) -> ColumnType | None:
    if value is None:
        return None
    if _is_glean_object_metric(path):
        return "JSON"
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, (float, Decimal)):
        return "FLOAT64"
    if isinstance(value, datetime.datetime):  # before date: a datetime is a date
        return "TIMESTAMP"
    if isinstance(value, datetime.date):
        return "DATE"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, dict):
        fields: dict[str, ColumnType] = {}
        for key, item in value.items():
            fields[str(key)] = _merge(fields.get(str(key)), _infer(item, (*path, str(key))), (*path, str(key)))  # type: ignore[assignment]
        return fields
    if isinstance(value, list):
        item_type: ColumnType | None = None
        for item in value:
            item_type = _merge(item_type, _infer(item, path), path)
        return [item_type] if item_type is not None else None
    raise RowError(f"column {'.'.join(path)}: cannot type a value of {type(value).__name__}")


def _merge(a: ColumnType | None, b: ColumnType | None, path: tuple[str, ...]) -> ColumnType | None:
    if a is None or a == b:
        return b if a is None else a
    if b is None:
        return a
    if isinstance(a, str) and isinstance(b, str) and {a, b} == {"INT64", "FLOAT64"}:
        return "FLOAT64"
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, kind in b.items():
            merged[key] = _merge(merged.get(key), kind, (*path, key))  # type: ignore[assignment]
        return merged
    if isinstance(a, list) and isinstance(b, list):
        item = _merge(a[0], b[0], path)
        return [item] if item is not None else None
    raise RowError(f"column {'.'.join(path)}: rows disagree on its type ({_name(a)} and {_name(b)}); add a schema")


def _name(kind: ColumnType) -> str:
    if isinstance(kind, dict):
        return "STRUCT"
    if isinstance(kind, list):
        return "ARRAY"
    return kind


def _settle(kind: ColumnType | None) -> ColumnType:
    """Columns that are NULL in every row: STRING, as BigQuery's loader would pick."""
    if kind is None:
        return "STRING"
    if isinstance(kind, dict):
        return {key: _settle(item) for key, item in kind.items()}
    if isinstance(kind, list):
        return [_settle(kind[0])]
    return kind


def infer(rows: Sequence[Mapping[str, Any]]) -> dict[str, ColumnType]:
    """Column types from fixture rows, for a table without a schema (e.g. the raw ping table).

    Values map as YAML reads them: ints INT64, floats FLOAT64, unquoted timestamps
    TIMESTAMP, unquoted dates DATE, mappings STRUCT, lists ARRAY; ``metrics.object.*``
    is JSON, the type Glean gives object metrics such as the OTLP traces data.
    """
    columns: dict[str, ColumnType | None] = {}
    for row in rows:
        for key, value in row.items():
            columns[key] = _merge(columns.get(key), _infer(value, (key,)), (key,))
    return {key: _settle(kind) for key, kind in columns.items()}


def duckdb_structure(columns: Mapping[str, ColumnType]) -> dict[str, Any]:
    """The ``json_transform`` structure: the same tree with DuckDB type names at the leaves."""
    from sqlglot import exp

    def leaf(kind: ColumnType) -> Any:
        if isinstance(kind, dict):
            return {key: leaf(item) for key, item in kind.items()}
        if isinstance(kind, list):
            return [leaf(kind[0])]
        if kind in DUCKDB_OVERRIDES:
            return DUCKDB_OVERRIDES[kind]
        return exp.DataType.build(kind, dialect="bigquery").sql("duckdb")

    return {key: leaf(kind) for key, kind in columns.items()}


def _timestamp_text(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def prepare(value: Any, kind: ColumnType, path: str) -> Any:
    """A fixture value as JSON-ready data, every STRUCT field present (NULL when omitted)."""
    if value is None:
        return None
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise RowError(f"column {path}: expected a mapping (STRUCT), got {value!r}")
        unknown = sorted(set(value) - set(kind))
        if unknown:
            raise RowError(f"column {path}: no field {unknown[0]!r} in its schema")
        return {key: prepare(value.get(key), item, f"{path}.{key}") for key, item in kind.items()}
    if isinstance(kind, list):
        if not isinstance(value, list):
            raise RowError(f"column {path}: expected a list (REPEATED), got {value!r}")
        return [prepare(item, kind[0], f"{path}[]") for item in value]
    if kind == "JSON":
        if isinstance(value, str):
            try:
                return json.loads(value)  # JSON written as text in the fixture
            except ValueError:
                return value
        return value
    return _timestamp_text(value)


def prepare_rows(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, ColumnType]) -> list[str]:
    """Each row as JSON text holding every column; unknown columns are an error."""
    prepared = []
    for number, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(columns))
        if unknown:
            raise RowError(f"row {number}: column {unknown[0]!r} is not in the table's schema")
        try:
            values = {key: prepare(row.get(key), kind, key) for key, kind in columns.items()}
        except RowError as exc:
            raise RowError(f"row {number}: {exc}") from None
        prepared.append(json.dumps(values, default=_timestamp_text, ensure_ascii=False))
    return prepared
