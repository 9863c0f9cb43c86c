"""Rule 5 (views): a view is ``application`` followed by the columns of the tables it
unions, for every configured application."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError

from gecko_trace_check.lint import ERROR
from gecko_trace_check.lint.context import Context, Statement, TableName, table_name
from gecko_trace_check.lint.sql import is_star, position
from gecko_trace_check.render import DERIVED_SUFFIX
from gecko_trace_check.sqlrefs import tables_read

# A name sqlglot's schema normalisation and `*` expansion leave exactly as they are.
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass
class ViewBranch:
    """What rule 5 needs of one SELECT of a view."""

    select: exp.Expression  # the branch: where it is
    tables: list[TableName]  # the tables it reads
    application: exp.Expression | None  # its first output named application
    columns: list[str]  # its outputs, `*` expanded where the table is known
    star: bool  # a `*` is left: the outputs are not known


def union_branches(query: exp.Expression) -> list[exp.Expression]:
    """The SELECTs of a UNION (left to right; a loop, not recursion: one level per application)."""
    branches, stack = [], [query]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.SetOperation):
            stack += [node.right, node.left]
        else:
            branches.append(node)
    return branches


def qualified_branch(context: Context, branch: exp.Expression) -> ViewBranch:
    if not isinstance(branch, exp.Select):
        return ViewBranch(branch, [], None, [], False)
    tables = [name for name in (table_name(context, table) for table in tables_read(branch)) if name]
    application = next((select for select in branch.selects if select.alias_or_name == "application"), None)
    return ViewBranch(branch, tables, application, branch.named_selects, any(is_star(select) for select in branch.selects))


def _given(node: exp.Expression) -> set[str]:
    return {key for key, value in node.args.items() if value}


def plain_view_branches(context: Context, query: exp.Expression) -> list[ViewBranch] | None:
    """The branches of a view that is a plain UNION of ``SELECT <literal> AS <name>, ..., *
    FROM <a table of this render>``, as qualify would expand them; None for any other view.

    Qualifying an N-way union costs more than N times one branch, and these need none: `*`
    is the table's schema.yaml fields in order, every column read is one of them.
    """
    try:
        context.sqlglot_schema(query)  # schemas sqlglot rejects: qualify reports it, as for any query
    except (SqlglotError, ValueError, KeyError):
        return None
    stack, branches = [query], []
    while stack:
        node = stack.pop()
        if isinstance(node, exp.SetOperation):
            if _given(node) - {"this", "expression", "distinct"}:
                return None  # ORDER BY, LIMIT, WITH, BY NAME, ...
            stack += [node.right, node.left]
            continue
        branch = _plain_branch(context, node)
        if branch is None:
            return None
        branches.append(branch)
    return branches


def _plain_branch(context: Context, select: exp.Expression) -> ViewBranch | None:
    if not isinstance(select, exp.Select) or _given(select) - {"expressions", "from_"}:
        return None
    source = select.args["from_"]
    table = source.this if not _given(source) - {"this"} else None
    if not isinstance(table, exp.Table) or _given(table) - {"this", "db", "catalog"}:
        return None
    if not all(isinstance(part, exp.Identifier) and part.name == part.name.lower() for part in table.parts):
        return None  # sqlglot may normalise the name's case
    name = table_name(context, table)
    schema = context.schema(name) if name else None
    if schema is None or not schema.fields or not _plain_fields(schema.fields):
        return None
    outputs: list[tuple[str, exp.Expression | None]] = []
    for column in select.selects:
        if isinstance(column, exp.Star) and not _given(column):
            outputs += [(field_name, None) for field_name in dict.fromkeys(schema.names)]
        elif (isinstance(column, exp.Alias) and not _given(column) - {"this", "alias"}
              and isinstance(column.this, exp.Literal) and PLAIN_NAME.fullmatch(column.alias)):
            outputs.append((column.alias, column))
        else:
            return None
    if not outputs or outputs[0][1] is None:
        return None  # the branch's position is its first literal's
    # A column of the table named application is not the literal: as after qualify, no app id.
    application = next((node for output, node in outputs if output == "application"), None)
    return ViewBranch(select, [name], application, [output for output, _ in outputs], False)


def _plain_fields(entries: list) -> bool:
    """Names that qualify keeps as they are, and types it reads (a RECORD's fields too)."""
    for entry in entries:
        if not isinstance(entry, dict) or not PLAIN_NAME.fullmatch(str(entry.get("name"))):
            return False
        nested = entry.get("fields")
        if str(entry.get("type", "")).upper() in ("RECORD", "STRUCT") and isinstance(nested, list) and not _plain_fields(nested):
            return False
    return True


def check_view(context: Context, statement: Statement, branches: list[ViewBranch]) -> None:
    file = statement.file
    create = statement.expressions[0]
    target = table_name(context, create.this) if isinstance(create.this, exp.Table) else None
    expected_target = (file.project, file.dataset, file.name)
    if target is not None and target != expected_target:
        context.add(ERROR, "views", file, f"creates {'.'.join(target)}, but it is generated as {'.'.join(expected_target)}",
                    *position(create.this))
    schema = context.schema(expected_target)
    seen_apps: dict[str, exp.Expression] = {}
    reported: set[str] = set()
    for view_branch in branches:
        branch = view_branch.select
        if not isinstance(branch, exp.Select):
            continue
        application = view_branch.application
        literal = application.this if isinstance(application, exp.Alias) else None
        app_id = literal.this if isinstance(literal, exp.Literal) and literal.is_string else None
        tables = view_branch.tables
        if app_id is None:
            context.add(ERROR, "views", file, "a branch of the view has no \"<app_id>\" AS application column", *position(branch))
        else:
            seen_apps.setdefault(app_id, branch)
            derived = f"{app_id}{DERIVED_SUFFIX}"
            if tables and not any(dataset == derived for _, dataset, _ in tables):
                context.add(ERROR, "views", file,
                            f"the branch for {app_id} reads {', '.join('.'.join(name) for name in tables)}, not {derived}",
                            *position(application))
        upstream = [found for found in (context.schema(name) for name in tables) if found is not None]
        if len(tables) != 1 or len(upstream) != 1:
            continue  # a join or a table outside the render: the columns are not a union of one table
        expected = ["application"] + upstream[0].names
        produced = view_branch.columns
        if not view_branch.star and produced != expected:
            message = f"outputs {', '.join(produced)}; expected application followed by the fields of {'.'.join(tables[0])}"
            if message not in reported:
                reported.add(message)
                context.add(ERROR, "views", file, message, *position(branch))
        if schema is not None and schema.names != expected:
            missing = [name for name in expected if name not in schema.names]
            extra = [name for name in schema.names if name not in expected]
            parts = [f"missing {', '.join(missing)}" if missing else "", f"not in the tables: {', '.join(extra)}" if extra else ""]
            detail = "; ".join(part for part in parts if part) or "the fields are in another order"
            message = f"schema.yaml is not application followed by the fields of {tables[0][2]}: {detail}"
            if message not in reported:
                reported.add(message)
                line, column = schema.position((extra or missing or ["application"])[0])
                context.add(ERROR, "views", schema.file, message, line, column)
    for app_id in context.cfg.applications:
        if app_id not in seen_apps:
            context.add(ERROR, "views", file, f"application {app_id} is configured but not in the view")
