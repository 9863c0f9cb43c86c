"""What a parsed BigQuery statement refers to: the tables it reads and the routines it calls.

Shared by the lint (do the references resolve?) and the fixture runner (point them at
DuckDB), so both agree on what counts as a read table and as a routine call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp


def tables_read(statement: exp.Expression) -> Iterator[exp.Table]:
    """The tables a statement reads: not its CTEs, not the table a CREATE/INSERT/... writes."""
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    written = {id(node.this) for node in statement.find_all(exp.Create, exp.Insert, exp.Merge, exp.Update, exp.Delete)}
    for table in list(statement.find_all(exp.Table)):
        if table.name and id(table) not in written and (table.db or table.name not in ctes):
            yield table


@dataclass(frozen=True)
class RoutineCall:
    """``<project>.<dataset>.<routine>(args)``: ``node`` is the whole call in the tree."""

    project: str
    dataset: str
    routine: str
    node: exp.Expression
    args: list[exp.Expression]

    @property
    def name(self) -> str:
        return f"{self.project}.{self.dataset}.{self.routine}"


def _parts(node: exp.Expression) -> list[str]:
    """``mozfun.gecko_trace`` as ["mozfun", "gecko_trace"], from the Dot chain sqlglot builds."""
    if isinstance(node, exp.Dot):
        return _parts(node.this) + _parts(node.expression)
    if isinstance(node, exp.Column):
        return [part.name for part in node.parts]
    return [node.name]


def routine_calls(expression: exp.Expression, project: str = "mozfun") -> Iterator[RoutineCall]:
    """Calls of ``<project>.<dataset>.<routine>(...)`` (e.g. ``mozfun.gecko_trace.build_root_span``)."""
    for call in list(expression.find_all(exp.Anonymous)):
        parent = call.parent
        if isinstance(parent, exp.Dot) and parent.expression is call:
            parts = [*_parts(parent.this), call.name]
            node: exp.Expression = parent
        else:
            parts, node = call.name.split("."), call
        if len(parts) == 3 and parts[0].lower() == project:
            yield RoutineCall(parts[0], parts[1], parts[2], node, list(call.expressions))
