"""Rules 1-5 on a set of files of the render, each file on its own."""

from __future__ import annotations

from collections.abc import Sequence

from gecko_trace_check.lint.context import Context
from gecko_trace_check.lint.metadata import check_metadata
from gecko_trace_check.lint.references import check_columns_read, check_tables, qualify_query
from gecko_trace_check.lint.routines import collect_routine_calls
from gecko_trace_check.lint.sql import check_query_schema, parse_sql, query_of
from gecko_trace_check.lint.views import check_view, plain_view_branches, qualified_branch, union_branches
from gecko_trace_check.render import RenderedFile


def check(context: Context, files: Sequence[RenderedFile]) -> None:
    """Rules 1-5 on ``files`` (their schemas are loaded)."""
    parsed = [file for file in files if file.role.endswith(".sql") and parse_sql(context, file)]
    for file in files:
        if file.role == "metadata.yaml" and file.object_type == "table":
            check_metadata(context, file)
    for file in parsed:
        statement = context.statements[file.path]
        check_tables(context, statement)
        collect_routine_calls(context, statement)
        query = query_of(statement)
        if query is None:
            continue
        if file.object_type == "view":
            branches = plain_view_branches(context, query)
            if branches is not None:  # what qualify would make of them, without qualifying the union
                check_view(context, statement, branches)
                continue
        qualified = qualify_query(context, file, query)
        if qualified is None:
            continue
        check_columns_read(context, file, qualified)
        if file.object_type == "table" and file.role == "query.sql":
            check_query_schema(context, file, query, qualified)
        elif file.object_type == "view":
            check_view(context, statement, [qualified_branch(context, branch) for branch in union_branches(qualified)])
