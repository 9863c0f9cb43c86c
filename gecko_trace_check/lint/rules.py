"""The lint rules, run on a render: what would fail only once BigQuery runs the pipeline.

1. valid-sql: every SQL file parses as BigQuery (and is the statement its name says).
2. query-schema: a table's query outputs its schema.yaml fields, by name and in order.
3. metadata-schema: partitioning and clustering name schema fields BigQuery accepts.
4. references: tables inside the generator's namespace are produced by this render,
   tables outside it exist in the committed tree, columns read from a table of this
   render are in its schema.
5. views: a view is ``application`` followed by the columns of the tables it unions,
   for every configured application.
6. routines: every ``mozfun.<dataset>.<routine>(...)`` exists in the committed tree.

Each rule has its module (``sql``: 1 and 2, ``metadata``: 3, ``references``, ``views``,
``routines``); ``per_file`` runs 1-5 on files. They import sqlglot: ``lint`` loads them,
through this module, only when the cache has no answer.

Cost: the derived files of two applications usually differ only in the application id,
so they are analysed once per distinct text, with the id replaced by a placeholder (see
``per_app``), and the findings are copied to each application. A view that is a
plain UNION ALL of ``SELECT "<app_id>" AS application, * FROM <a table of this render>``
is checked branch by branch from the schemas, without qualifying the N-way union. So a
cold lint of 300 applications costs little more than one of 3.
"""

from __future__ import annotations

from collections.abc import Sequence

from gecko_trace_check.config import Config
from gecko_trace_check.lint import Finding, TreeProbe
from gecko_trace_check.lint.context import Context, RoutineCall
from gecko_trace_check.lint.metadata import load_schema
from gecko_trace_check.lint.per_app import share, shareable_groups
from gecko_trace_check.lint.per_file import check
from gecko_trace_check.lint.routines import check_routines
from gecko_trace_check.render import RenderedFile


def run(cfg: Config, rendered: Sequence[RenderedFile], probe: TreeProbe) -> list[Finding]:
    context = Context(cfg, probe, list(rendered))
    for file in rendered:
        if file.role == "schema.yaml":
            load_schema(context, file)  # every schema: views and other tables look them up
    shared: list[Finding] = []
    calls: dict[str, list[RoutineCall]] = {}
    covered: set[str] = set()  # the files whose findings come from a shared analysis
    for placeholder, files, apps in shareable_groups(context):
        share(context, placeholder, files, apps, shared, calls, covered)
    check(context, [file for file in rendered if file.path not in covered])
    findings = [finding for finding in context.findings if finding.path not in covered] + shared
    calls.update(context.routine_calls)
    done = len(context.findings)
    check_routines(context, rendered, calls)
    findings += context.findings[done:]
    order = {file.path: index for index, file in enumerate(rendered)}
    return sorted(findings, key=lambda f: (order.get(f.path, len(order)), f.line or 0, f.column or 0))
