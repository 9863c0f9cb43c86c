"""Expected rows vs the rows a query returned: missing, unexpected and changed rows.

Rows are compared as a multiset (order does not matter, as in bigquery-etl's tests).
Values are made comparable first: JSON columns parsed, DATE values as ISO strings,
timestamps as ISO strings in UTC, floats compared with a relative tolerance; a column
that expect.yaml leaves out is expected to be NULL. Rows left over on both sides are
paired by key (``application``, ``submission_date`` and the ``*_id`` columns that name
the row itself) and, among rows with the same key, by the most equal columns, so a
change reads ``column: expected -> actual`` instead of one row missing and one extra.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class ColumnChange:
    column: str
    expected: Any
    actual: Any


@dataclass(frozen=True)
class ChangedRow:
    key: Row
    changes: list[ColumnChange]


@dataclass
class RowDiff:
    missing: list[Row] = field(default_factory=list)
    unexpected: list[Row] = field(default_factory=list)
    changed: list[ChangedRow] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)  # in expect.yaml, not in the result

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.changed or self.unknown_columns)


def _utc_text(value: datetime.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value.isoformat()


def _plain(value: Any) -> Any:
    """A value in comparable form: dates and times as ISO text, decimals as floats."""
    if isinstance(value, datetime.datetime):
        return _utc_text(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _is_timestamp(duckdb_type: str) -> bool:
    return duckdb_type.startswith("TIMESTAMP")


def _actual(value: Any, duckdb_type: str) -> Any:
    if duckdb_type == "JSON" and isinstance(value, str):
        return json.loads(value)
    return _plain(value)


def _expected(value: Any, duckdb_type: str) -> Any:
    if isinstance(value, str) and duckdb_type == "JSON":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, str) and _is_timestamp(duckdb_type):
        text = value.strip().removesuffix(" UTC")
        if text.endswith("Z"):  # Python 3.10's fromisoformat does not read the Z suffix
            text = text[:-1] + "+00:00"
        try:
            return _utc_text(datetime.datetime.fromisoformat(text))
        except ValueError:
            return value
    if isinstance(value, datetime.datetime) and value.tzinfo is None and _is_timestamp(duckdb_type):
        return _utc_text(value.replace(tzinfo=datetime.timezone.utc))
    return _plain(value)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def key_columns(columns: Sequence[str]) -> list[str]:
    """The columns that say which row this is (a parent's id names another row)."""
    return [
        name
        for name in columns
        if name in ("application", "submission_date") or (name.endswith("_id") and not name.startswith("parent_"))
    ]


def _equal_columns(expected: Row, actual: Row) -> int:
    return sum(1 for name in expected if same(expected[name], actual[name]))


def compare(expected_rows: Sequence[Mapping[str, Any]], columns: Sequence[str], types: Sequence[str], actual_rows: Sequence[Sequence[Any]]) -> RowDiff:
    diff = RowDiff()
    known = set(columns)
    diff.unknown_columns = sorted({name for row in expected_rows for name in row if name not in known})
    column_types = dict(zip(columns, types))
    expected = [{name: _expected(row.get(name), column_types[name]) for name in columns} for row in expected_rows]
    actual = [{name: _actual(value, column_types[name]) for name, value in zip(columns, row)} for row in actual_rows]

    # Equal rows first, so that pairing below only sees what really differs.
    left_actual = list(actual)
    left_expected = []
    for row in expected:
        match = next((index for index, candidate in enumerate(left_actual) if same(row, candidate)), None)
        if match is None:
            left_expected.append(row)
        else:
            del left_actual[match]

    keys = key_columns(columns)
    for row in left_expected:
        candidates = [
            (index, candidate)
            for index, candidate in enumerate(left_actual)
            if all(same(row[name], candidate[name]) for name in keys)
        ]
        if not keys:  # no key: pair only rows that are mostly the same
            candidates = [(i, c) for i, c in candidates if 2 * _equal_columns(row, c) >= len(columns)]
        if not candidates:
            diff.missing.append(row)
            continue
        index, candidate = max(candidates, key=lambda pair: _equal_columns(row, pair[1]))
        del left_actual[index]
        changes = [ColumnChange(name, row[name], candidate[name]) for name in columns if not same(row[name], candidate[name])]
        diff.changed.append(ChangedRow({name: row[name] for name in keys}, changes))
    diff.unexpected = left_actual
    return diff


# -- display ---------------------------------------------------------------------------

MAX_VALUE = 80


def show(value: Any) -> str:
    """A value the way it reads in YAML-ish one-liners: NULL, numbers, "strings", JSON."""
    if value is None:
        return "NULL"
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def show_row(row: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{name}: {show(value)}" for name, value in row.items() if value is not None) + "}"


def _json_differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: expected -> actual`` (the first few)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for name in list(expected) + [name for name in actual if name not in expected]:
            found += _json_differences(expected.get(name), actual.get(name), f"{path}.{name}" if path else name)
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        found = []
        for index, (x, y) in enumerate(zip(expected, actual)):
            found += _json_differences(x, y, f"{path}[{index}]")
        return found
    if same(expected, actual):
        return []
    return [f"{path or '(value)'}: {show(expected)} -> {show(actual)}"]


def show_change(change: ColumnChange, limit: int = 3) -> list[str]:
    """``column: expected -> actual``; inside JSON, the paths that differ."""
    if isinstance(change.expected, (dict, list)) and isinstance(change.actual, (dict, list)):
        paths = _json_differences(change.expected, change.actual)
        more = [f"… and {len(paths) - limit} more"] if len(paths) > limit else []
        return [f"{change.column}: " + paths[0]] + [f"{' ' * len(change.column)}  {line}" for line in paths[1:limit] + more]
    return [f"{change.column}: {show(change.expected)} -> {show(change.actual)}"]
