"""Rules 1 and 2 on SQL files: each parses as the statement its name says (valid-sql),
and a table's query outputs its schema.yaml fields in order (query-schema)."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from gecko_trace_check.lint import ERROR
from gecko_trace_check.lint.context import DIALECT, Context, Statement
from gecko_trace_check.render import RenderedFile


# -- 1. valid SQL ---------------------------------------------------------------------


def parse_sql(context: Context, file: RenderedFile) -> bool:
    """Rule 1; True when the file holds the statement its name says (then it is in ``context.statements``)."""
    text = file.content.decode("utf-8", errors="replace")
    try:
        expressions = [expression for expression in sqlglot.parse(text, read=DIALECT) if expression is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, column = first.get("line"), first.get("col")
        highlight = first.get("highlight") or ""
        if isinstance(column, int) and highlight:  # sqlglot points at the token's last character
            column = max(1, column - len(highlight) + 1)
        description = first.get("description")
        if not description:
            description = str(exc).splitlines()[0]
            context.opaque()
        near = f" (at {highlight!r})" if highlight else ""
        context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {description}{near}", line, column)
        return False
    except TokenError as exc:
        cause = str(exc.__cause__ or exc)
        # sqlglot's tokenizer says "Missing ' from <line>:<offset of the opening quote>".
        match = re.search(r"^(Missing .+) from \d+:(\d+)$", cause)
        if match and int(match.group(2)) < len(text):
            offset = int(match.group(2))
            line, column = text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)
            context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {match.group(1)} (never closed)", line, column)
        else:
            context.opaque()
            context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {cause}")
        return False
    if not expressions:
        context.add(ERROR, "valid-sql", file, f"{file.role} holds no SQL statement")
        return False
    if file.role == "view.sql":
        create = expressions[0]
        if len(expressions) != 1 or not isinstance(create, exp.Create) or create.kind != "VIEW" or not isinstance(create.expression, exp.Query):
            context.add(ERROR, "valid-sql", file, "view.sql must be one CREATE VIEW ... AS <query> statement", *position(create))
            return False
    elif file.role == "query.sql":
        if len(expressions) != 1 or not isinstance(expressions[0], exp.Query):
            context.add(ERROR, "valid-sql", file, "query.sql must be one query (SELECT ...)", *position(expressions[-1]))
            return False
    context.statements[file.path] = Statement(file, expressions)
    return True


def position(node: exp.Expression | None) -> tuple[int | None, int | None]:
    """Line and (1-based) column where a node's first token starts, if sqlglot kept it."""
    best: tuple[int, int, int] | None = None
    for child in node.walk() if node is not None else ():
        meta = child.meta if child.meta else None
        if meta and "line" in meta and "start" in meta:
            start = (meta["start"], meta["line"], meta["col"] - (meta["end"] - meta["start"]))
            best = start if best is None or start < best else best
    return (best[1], best[2]) if best else (None, None)


def query_of(statement: Statement) -> exp.Query | None:
    first = statement.expressions[0]
    if statement.file.role == "view.sql" and isinstance(first, exp.Create):
        return first.expression
    if statement.file.role == "query.sql" and isinstance(first, exp.Query):
        return first
    return None  # script.sql: parsed (rule 1) and its routines checked, not its columns


# -- 2. query vs schema -----------------------------------------------------------------


def check_query_schema(context: Context, file: RenderedFile, query: exp.Query, qualified: exp.Query) -> None:
    schema = context.schema((file.project, file.dataset, file.name))
    if schema is None:
        context.add(ERROR, "query-schema", file, "the table has a query but no schema.yaml")
        return
    if any(is_star(select) for select in qualified.selects):
        return  # `*` from a table outside this render: its columns are not known here
    produced, declared = qualified.named_selects, schema.names
    where = {name: position(select) for name, select in zip(produced, qualified.selects)}
    star = next((select for select in query.selects if is_star(select)), None)
    for name in produced:
        if name not in declared:
            line, column = where[name] if where[name][0] else position(star)
            context.add(ERROR, "query-schema", file, f"column {name} is in query.sql but not in schema.yaml", line, column)
    schema_file = schema.file
    for name in declared:
        if name not in produced:
            context.add(ERROR, "query-schema", schema_file, f"field {name} is in schema.yaml but {file.role} does not produce it",
                        *schema.position(name))
    common_produced = [name for name in produced if name in declared]
    common_declared = [name for name in declared if name in produced]
    if common_produced != common_declared:
        index = next(i for i, (a, b) in enumerate(zip(common_produced, common_declared)) if a != b)
        name = common_produced[index]
        context.add(
            ERROR, "query-schema", file,
            f"columns are not in schema.yaml's order: {name} comes where schema.yaml has {common_declared[index]} "
            f"(schema.yaml order: {', '.join(common_declared)})",
            *where[name],
        )


def is_star(select: exp.Expression) -> bool:
    return isinstance(select, exp.Star) or (isinstance(select, exp.Column) and isinstance(select.this, exp.Star))
