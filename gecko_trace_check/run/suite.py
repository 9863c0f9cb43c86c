"""Render, find the fixture tests of every rendered query and view, run them, report."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gecko_trace_check import config, render, yamlio
from gecko_trace_check.errors import InputError
from gecko_trace_check.run import engine, fixtures, rowdiff, tables, translate

DEFAULT_FIXTURES = "tests/sql"


@dataclass(frozen=True)
class TestResult:
    case: fixtures.TestCase
    object: str  # dataset.table, as BigQuery names it
    diff: rowdiff.RowDiff | None = None
    error: str | None = None  # the query could not run

    @property
    def passed(self) -> bool:
        return self.error is None and self.diff is not None and self.diff.ok


def _display(path: Path) -> str:
    """A path the way the user would type it: relative to the current folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:  # elsewhere: the absolute path
        return str(path)


def fixtures_dir(option: str | None, cwd: Path | None = None) -> Path:
    """``--fixtures`` (relative to cwd), else tests/sql at the repository root."""
    cwd = Path.cwd() if cwd is None else cwd
    if option is not None:
        return cwd / option
    pyproject = config.find_pyproject(cwd)
    return (pyproject.parent if pyproject else cwd) / DEFAULT_FIXTURES


def _rendered_schemas(files: list[render.RenderedFile]) -> dict[translate.TableId, list[dict[str, Any]]]:
    schemas = {}
    for rendered in files:
        if rendered.role == "schema.yaml":
            document = yamlio.load(rendered.content)
            if isinstance(document, dict) and isinstance(document.get("fields"), list):
                schemas[(rendered.project, rendered.dataset, rendered.name)] = document["fields"]
    return schemas


def _committed_schema(sql_dir: Path, table: translate.TableId) -> list[dict[str, Any]] | None:
    path = sql_dir.joinpath(*table, "schema.yaml")
    if not path.is_file():
        return None
    document = yamlio.read_file(path)
    fields = document.get("fields") if isinstance(document, dict) else None
    return fields if isinstance(fields, list) else None


def _inputs_by_table(case: fixtures.TestCase) -> dict[translate.TableId, fixtures.InputTable]:
    inputs: dict[translate.TableId, fixtures.InputTable] = {}
    for table in case.inputs:
        full = translate.table_id(table.table_id, case.project, case.dataset)
        if full in inputs:
            raise InputError(f"two fixture files for table {'.'.join(full)}: {inputs[full].path.name} and {table.path.name}", _display(case.path))
        inputs[full] = table
    return inputs


def run_case(
    duckdb: Any,
    connection: Any,
    number: int,
    case: fixtures.TestCase,
    sql: str,
    schemas: dict[translate.TableId, list[dict[str, Any]]],
    sql_dir: Path,
) -> TestResult:
    name = render.object_name(case.dataset, case.table)
    inputs = _inputs_by_table(case)
    try:
        translation = translate.translate(sql, case.project, case.dataset, case.params)
    except translate.TranslateError as exc:
        return TestResult(case, name, error=str(exc))
    missing = [table for table in translation.tables if table not in inputs]
    if missing:
        wanted = ", ".join(".".join(table) + ".yaml" for table in missing)
        return TestResult(case, name, error=f"the query reads tables the test has no rows for: add {wanted}")

    with engine.fresh_database(connection, f"test_{number}"):
        for table in translation.tables:
            fixture = inputs[table]
            try:
                fields = fixture.schema or schemas.get(table) or _committed_schema(sql_dir, table)
                columns = tables.from_schema(fields) if fields is not None else tables.infer(fixture.rows)
                if not columns:
                    raise tables.RowError("no rows and no schema: cannot tell the table's columns")
                engine.load_table(connection, table, columns, fixture.rows)
            except tables.RowError as exc:
                raise InputError(str(exc), _display(fixture.path)) from None
            except duckdb.Error as exc:
                raise InputError(f"rows do not fit the table's schema: {str(exc).strip().splitlines()[0]}", _display(fixture.path)) from None
        try:
            result = engine.run(duckdb, connection, translation.sql)
        except engine.QueryError as exc:
            return TestResult(case, name, error=f"DuckDB could not run the query: {exc}")
    return TestResult(case, name, diff=rowdiff.compare(case.expect, result.columns, result.types, result.rows))


def _report(results: list[TestResult]) -> None:
    for result in results:
        status = "PASS" if result.passed else "FAIL"
        print(f"{status} {result.object} {result.case.name}")
        if result.passed:
            continue
        print(f"    {_display(result.case.path)}")
        if result.error is not None:
            print(f"    {result.error}")
            continue
        diff = result.diff
        assert diff is not None
        for column in diff.unknown_columns:
            print(f"    expect.yaml names column {column!r}, which the query does not return")
        if diff.changed:
            print("    changed rows (expected -> actual):")
        for row in diff.changed:
            print(f"    ~ row {rowdiff.show_row(row.key)}")
            for change in row.changes:
                for line in rowdiff.show_change(change):
                    print(f"        {line}")
        for row in diff.missing:
            print(f"    - missing row {rowdiff.show_row(row)}")
        for row in diff.unexpected:
            print(f"    + unexpected row {rowdiff.show_row(row)}")
    failed = sum(1 for result in results if not result.passed)
    passed = len(results) - failed
    noun = "test" if len(results) == 1 else "tests"
    print(f"\n{len(results)} {noun}: {passed} passed, {failed} failed.")


def run(cfg: config.Config, fixtures_option: str | None) -> int:
    duckdb = engine.require_duckdb()
    folder = fixtures_dir(fixtures_option)
    if not folder.is_dir():
        raise InputError("no fixtures folder (give one with --fixtures)", _display(folder))
    files = render.render(cfg.templates, cfg.target_project, cfg.applications)
    queries = [rendered for rendered in files if rendered.role in render.SQL_NAMES]

    # Read every fixture before running anything: a bad file stops the run (exit 2).
    cases = []
    for rendered in queries:
        for test in fixtures.find_tests(folder, rendered.project, rendered.dataset, rendered.name):
            cases.append((rendered, fixtures.load_test(test, rendered.project, rendered.dataset, rendered.name)))
    if not cases:
        where = f"{_display(folder)}/{cfg.target_project}/<dataset>/<table>/test_*/"
        raise InputError(f"no tests for the rendered queries and views (looked for {where})", _display(folder))

    schemas = _rendered_schemas(files)
    connection = engine.connect(duckdb)
    try:
        results = [
            run_case(duckdb, connection, number, case, rendered.content.decode("utf-8"), schemas, cfg.sql_dir)
            for number, (rendered, case) in enumerate(cases)
        ]
    finally:
        connection.close()
    _report(results)
    sys.stdout.flush()
    return 0 if all(result.passed for result in results) else 1
