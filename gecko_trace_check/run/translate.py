"""A rendered BigQuery query or view -> DuckDB SQL, by rewriting sqlglot's syntax tree.

Three rewrites, none on the text: table references point at the in-memory tables the
fixtures were loaded into, ``@param`` query parameters become typed literals, and calls
of the ``mozfun`` routines become the Python functions the engine registers. The rest
is sqlglot's own BigQuery -> DuckDB translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from gecko_trace_check.run.fixtures import QueryParam
from gecko_trace_check.sqlrefs import routine_calls, tables_read

# The routines we have Python ports of (udfs.py), and the names the engine registers.
ROUTINES = {
    "mozfun.gecko_trace.build_root_span": "mozfun_gecko_trace_build_root_span",
    "mozfun.gecko_trace.calculate_signature": "mozfun_gecko_trace_calculate_signature",
}

TableId = tuple[str, str, str]  # project, dataset, table


class TranslateError(Exception):
    """The query cannot run here: it does not parse, or it needs what the test lacks."""


@dataclass(frozen=True)
class Translation:
    sql: str  # DuckDB SQL
    tables: tuple[TableId, ...]  # the tables it reads, fully qualified, in order of first use


def table_id(name: str, project: str, dataset: str) -> TableId:
    """A full or partial table id (``table``, ``dataset.table``, ``project.dataset.table``)."""
    parts = name.split(".")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return project, parts[0], parts[1]
    return project, dataset, parts[0]


def duckdb_schema(table: TableId) -> str:
    """The in-memory schema holding a table: one per BigQuery project and dataset."""
    return f"{table[0]}.{table[1]}"


def _select_of(tree: exp.Expression) -> exp.Expression:
    """A view's SELECT (``CREATE OR REPLACE VIEW ... AS SELECT``), or the query itself."""
    if isinstance(tree, exp.Create):
        body = tree.expression
        if not isinstance(body, exp.Query):
            raise TranslateError("the CREATE statement has no SELECT to run")
        return body
    if not isinstance(tree, exp.Query):
        raise TranslateError(f"expected a query or a view, got {tree.key.upper()}")
    return tree


def _rewrite_tables(select: exp.Expression, project: str, dataset: str) -> list[TableId]:
    tables: list[TableId] = []
    for table in list(tables_read(select)):
        full = table_id(".".join(part.name for part in table.parts), project, dataset)
        if full not in tables:
            tables.append(full)
        # Keep the old name as alias so `table.column` references still resolve.
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Table(this=exp.to_identifier(full[2], quoted=True), db=exp.to_identifier(duckdb_schema(full), quoted=True), alias=alias))
    return tables


def _rewrite_routines(select: exp.Expression) -> None:
    for call in list(routine_calls(select)):
        name = call.name.lower()
        if name not in ROUTINES:
            raise TranslateError(f"calls {name}, which has no Python port")
        call.node.replace(exp.Anonymous(this=ROUTINES[name], expressions=call.args))


def _literal(param: QueryParam) -> exp.Expression:
    value: Any = param.value
    target = exp.DataType.build(param.type, dialect="bigquery")
    if value is None:
        return exp.cast(exp.null(), target)
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return exp.cast(exp.Literal.string(str(value)), target)


def _rewrite_params(select: exp.Expression, params: Mapping[str, QueryParam]) -> None:
    for node in list(select.find_all(exp.Parameter)):
        name = node.name
        if name not in params:
            raise TranslateError(f"uses @{name}, but query_params.yaml does not set it")
        node.replace(_literal(params[name]))


def translate(sql: str, project: str, dataset: str, params: list[QueryParam]) -> Translation:
    """Parse ``sql`` as BigQuery, rewrite it for the fixtures, write it as DuckDB SQL."""
    try:
        statements = [tree for tree in sqlglot.parse(sql, read="bigquery") if tree is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise TranslateError(f"does not parse as BigQuery SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise TranslateError(f"expected one statement, found {len(statements)}")
    select = _select_of(statements[0])
    tables = _rewrite_tables(select, project, dataset)
    _rewrite_routines(select)
    _rewrite_params(select, {param.name: param for param in params})
    try:
        return Translation(select.sql(dialect="duckdb"), tuple(tables))
    except sqlglot.errors.SqlglotError as exc:
        raise TranslateError(f"cannot write it as DuckDB SQL: {str(exc).splitlines()[0]}") from None
