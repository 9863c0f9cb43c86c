"""Read bigquery-etl style test folders: input tables, query parameters, expected rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gecko_trace_check import yamlio
from gecko_trace_check.errors import InputError

PARAMS_FILE = "query_params.yaml"
EXPECT_FILE = "expect.yaml"
SCHEMA_SUFFIX = ".schema.yaml"


@dataclass(frozen=True)
class InputTable:
    """The rows of one input table, named as the file names it (full or partial id)."""

    table_id: str
    rows: list[dict[str, Any]]
    path: Path
    # An explicit schema for a table the render has none for (``<id>.schema.yaml``).
    schema: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class QueryParam:
    name: str
    type: str
    value: Any


@dataclass(frozen=True)
class TestCase:
    """One ``test_<name>`` folder below the object it tests."""

    name: str
    path: Path
    project: str
    dataset: str
    table: str  # the table or view under test
    inputs: list[InputTable]
    params: list[QueryParam]
    expect: list[dict[str, Any]]


def _load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree (for line numbers); bad YAML is an InputError."""
    return yamlio.read_file(path, with_nodes=True)


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _rows(path: Path) -> list[dict[str, Any]]:
    """A list of mappings (an empty file is an empty table)."""
    document, node = _load_yaml(path)
    if document is None:
        return []
    if not isinstance(document, list):
        raise InputError("expected a list of rows", str(path), _line(node))
    for index, row in enumerate(document):
        if not isinstance(row, dict) or not all(isinstance(key, str) for key in row):
            item = node.value[index] if isinstance(node, yaml.SequenceNode) else node
            raise InputError(f"row {index + 1} is not a mapping of column names to values", str(path), _line(item))
    return document


def _params(path: Path) -> list[QueryParam]:
    document, node = _load_yaml(path)
    if document is None:
        return []
    if not isinstance(document, list):
        raise InputError("expected a list of {name, type, value}", str(path), _line(node))
    params = []
    for index, item in enumerate(document):
        item_node = node.value[index] if isinstance(node, yaml.SequenceNode) else node
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("type"), str):
            raise InputError("a query parameter needs a name and a type", str(path), _line(item_node))
        value = item.get("value")
        if isinstance(value, (datetime.date, datetime.datetime)):
            value = value.isoformat()  # YAML reads 2024-05-01 as a date; SQL wants the text
        params.append(QueryParam(item["name"], item["type"], value))
    return params


def _schema(path: Path) -> list[dict[str, Any]]:
    document, node = _load_yaml(path)
    fields = document.get("fields") if isinstance(document, dict) else document
    if not isinstance(fields, list) or not all(isinstance(f, dict) and "name" in f and "type" in f for f in fields):
        raise InputError("expected a schema: fields with name and type", str(path), _line(node))
    return fields


def load_test(folder: Path, project: str, dataset: str, table: str) -> TestCase:
    """Every file of one test folder; input tables are the other ``*.yaml`` files."""
    expect_path = folder / EXPECT_FILE
    if not expect_path.is_file():
        raise InputError(f"a test folder needs {EXPECT_FILE}", str(folder))
    params = _params(folder / PARAMS_FILE) if (folder / PARAMS_FILE).is_file() else []
    schemas = {
        entry.name[: -len(SCHEMA_SUFFIX)]: _schema(entry) for entry in sorted(folder.glob(f"*{SCHEMA_SUFFIX}"))
    }
    inputs = []
    for entry in sorted(folder.glob("*.yaml")):
        if entry.name in (PARAMS_FILE, EXPECT_FILE) or entry.name.endswith(SCHEMA_SUFFIX):
            continue
        table_id = entry.name[: -len(".yaml")]
        inputs.append(InputTable(table_id, _rows(entry), entry, schemas.get(table_id)))
    return TestCase(
        name=folder.name,
        path=folder,
        project=project,
        dataset=dataset,
        table=table,
        inputs=inputs,
        params=params,
        expect=_rows(expect_path),
    )


def find_tests(fixtures: Path, project: str, dataset: str, table: str) -> list[Path]:
    """The ``test_*`` folders of one object; only the rendered objects' folders are looked at."""
    folder = fixtures / project / dataset / table
    if not folder.is_dir():
        return []
    return sorted(entry for entry in folder.iterdir() if entry.is_dir() and entry.name.startswith("test_"))
