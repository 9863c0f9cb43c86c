"""Rule 6 (routines): every ``mozfun.<dataset>.<routine>(...)`` exists in the committed tree."""

from __future__ import annotations

from collections.abc import Sequence

from gecko_trace_check.lint import ERROR, WARNING
from gecko_trace_check.lint.context import Context, RoutineCall, Statement
from gecko_trace_check.lint.sql import position
from gecko_trace_check.render import RenderedFile
from gecko_trace_check.sqlrefs import routine_calls

ROUTINE_FILES = ("udf.sql", "stored_procedure.sql")


def collect_routine_calls(context: Context, statement: Statement) -> None:
    """Each routine a file calls, at its first call: rule 6 looks at all files at once."""
    seen: set[tuple[str, str]] = set()
    sites: list[RoutineCall] = []
    for expression in statement.expressions:
        for call in routine_calls(expression):
            if (call.dataset, call.routine) not in seen:
                seen.add((call.dataset, call.routine))
                sites.append((call.dataset, call.routine, *position(call.node)))
    if sites:
        context.routine_calls[statement.file.path] = sites


def check_routines(context: Context, files: Sequence[RenderedFile], calls: dict[str, list[RoutineCall]]) -> None:
    """One finding per missing routine, at its first call, counting the files calling it."""
    if not context.exists(""):
        return  # no committed tree (a first `generate`): nothing to look in
    sites: dict[tuple[str, str], list[tuple[RenderedFile, int | None, int | None]]] = {}
    for file in files:
        for dataset, routine, line, column in calls.get(file.path, ()):
            sites.setdefault((dataset, routine), []).append((file, line, column))
    has_mozfun = context.exists("mozfun")
    for (dataset, routine), callers in sites.items():
        folder = f"mozfun/{dataset}/{routine}"
        if has_mozfun and any(context.exists(f"{folder}/{name}") for name in ROUTINE_FILES):
            continue
        file, line, column = callers[0]
        also = f" (called in {len(callers)} files)" if len(callers) > 1 else ""
        if has_mozfun:
            context.add(ERROR, "routines", file,
                        f"calls mozfun.{dataset}.{routine}, which is not in the sql tree: "
                        f"no {context.shown(folder)}/udf.sql or stored_procedure.sql{also}", line, column)
        else:
            context.add(WARNING, "routines", file,
                        f"calls mozfun.{dataset}.{routine}; the sql tree has no {context.shown('mozfun')}/ folder "
                        f"to check it in{also}", line, column)
