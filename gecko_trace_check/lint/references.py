"""Rule 4 (references): tables inside the generator's namespace are produced by this
render, tables outside it exist in the committed tree, columns read from a table of this
render are in its schema."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from gecko_trace_check.lint import ERROR, WARNING
from gecko_trace_check.lint.context import DIALECT, Context, Schema, Statement, TableName, table_name
from gecko_trace_check.lint.sql import position
from gecko_trace_check.render import RenderedFile
from gecko_trace_check.sqlrefs import tables_read


def check_tables(context: Context, statement: Statement) -> None:
    file = statement.file
    reported: set[TableName] = set()
    for table in (table for expression in statement.expressions for table in tables_read(expression)):
        name = table_name(context, table)
        if name is None or name in reported:
            continue
        reported.add(name)
        dotted = ".".join(name)
        if context.owned(name):
            if not context.is_produced(name):
                context.add(ERROR, "references", file, f"reads {dotted}, which this render does not produce", *position(table))
        elif context.exists(""):  # without a committed tree there is nothing to look in
            folder = "/".join(name)
            if not context.exists(folder):
                context.add(WARNING, "references", file,
                            f"reads {dotted}, which is not in the sql tree (no {context.shown(folder)}/)", *position(table))


def qualify_query(context: Context, file: RenderedFile, query: exp.Query) -> exp.Query | None:
    try:
        # Unknown columns must stay in the tree (not raise): check_columns_read reports them all.
        return qualify(query.copy(), schema=context.sqlglot_schema(query), dialect=DIALECT, validate_qualify_columns=False,
                       allow_partial_qualification=True, quote_identifiers=False, identify=False)
    except (SqlglotError, ValueError, KeyError) as exc:
        context.add(WARNING, "references", file, f"cannot resolve the query's columns ({exc}); its columns were not checked",
                    *position(query))
        return None


def check_columns_read(context: Context, file: RenderedFile, qualified: exp.Query) -> None:
    """A column read from a table of this render must be one of its schema's fields."""
    reported: set[tuple[str, str]] = set()
    for scope in traverse_scope(qualified):
        known = {alias: _render_table(context, source) for alias, source in scope.sources.items()}
        aliases = set(scope.expression.named_selects) if isinstance(scope.expression, exp.Select) else set()
        for column in scope.columns:
            if column.table:
                if column.table not in known or known[column.table] is None:
                    continue  # a CTE, UNNEST or a table outside the render (or a struct path)
                candidates = [known[column.table]]
            else:
                # sqlglot qualifies every column it can resolve; one left bare was found in
                # none of the scope's tables. Judge it only when all of them are ours.
                if not known or any(schema is None for schema in known.values()):
                    continue
                if column.name in aliases and column.find_ancestor(exp.Group, exp.Order, exp.Having, exp.Qualify):
                    continue  # GROUP BY / ORDER BY may name a column of the select list
                candidates = list(known.values())
            if any(column.name in schema.names for schema in candidates):
                continue
            owners = " or ".join(".".join(schema.file.path.split("/")[:3]) for schema in candidates)
            if (column.name, owners) in reported:
                continue
            reported.add((column.name, owners))
            context.add(ERROR, "references", file, f"reads column {column.name} from {owners}, whose schema.yaml has no such field",
                        *position(column))


def _render_table(context: Context, source: exp.Expression | Scope) -> Schema | None:
    if not isinstance(source, exp.Table):
        return None
    name = table_name(context, source)
    return context.schema(name) if name else None
