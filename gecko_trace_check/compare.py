"""The diff engine: a render + the committed tree -> one result per file.

That list is the single source of truth: every report format and ``--fix`` read it.
Equal bytes are ``in_sync`` without parsing anything; the SQL and YAML comparisons (and
their heavy imports) are loaded only for files whose bytes differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gecko_trace_check.errors import InputError
from gecko_trace_check.render import RenderedFile, object_name, object_type
from gecko_trace_check.tree import Tree

IN_SYNC, FORMAT_ONLY, STALE, MISSING, ORPHANED = "in_sync", "format_only", "stale", "missing", "orphaned"
STATUSES = (IN_SYNC, FORMAT_ONLY, STALE, MISSING, ORPHANED)


@dataclass(frozen=True)
class FileResult:
    path: str  # below the sql dir: <project>/<dataset>/<object>/<file>
    status: str
    object: str  # as BigQuery names it: firefox_desktop_derived.gecko_trace_spans_v1
    object_type: str  # table | view | dataset
    role: str  # the file name: query.sql, schema.yaml, ...
    changes: tuple[str, ...] = ()
    diff: str = ""  # unified diff of a stale SQL file: the committed file -> the render
    rendered: bytes | None = None  # what --fix writes; None for an orphan

    def is_drift(self, strict: bool = False) -> bool:
        return self.status in (STALE, MISSING, ORPHANED) or (strict and self.status == FORMAT_ONLY)


def _compare_sql(rendered: RenderedFile, committed_text: str, shown: str) -> tuple[str, tuple[str, ...], str]:
    from gecko_trace_check import sqlcmp

    rendered_text = rendered.content.decode("utf-8")
    try:
        new = sqlcmp.tokens(rendered_text)
    except ValueError as exc:
        raise InputError(f"generated SQL does not tokenize: {exc}", rendered.source or rendered.path) from None
    try:
        old = sqlcmp.tokens(committed_text)
    except ValueError as exc:
        return STALE, (f"{rendered.role}: not valid BigQuery SQL ({exc})",), sqlcmp.unified_diff(committed_text, rendered_text, shown)
    if [(w.kind, w.text) for w in old] == [(w.kind, w.text) for w in new]:
        return FORMAT_ONLY, (f"{rendered.role}: formatting differs",), ""
    what = "view" if rendered.role == "view.sql" else "query"
    changes = [f"{rendered.role}: {what} changed"] + [f"{rendered.role}: {change}" for change in sqlcmp.describe(old, new)]
    return STALE, tuple(changes), sqlcmp.unified_diff(committed_text, rendered_text, shown)


def _compare_yaml(rendered: RenderedFile, committed_text: str, ignore_keys: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    from gecko_trace_check import yamlio

    try:
        new = yamlio.load(rendered.content)
    except yamlio.InvalidYAML as exc:
        raise InputError(f"generated YAML is invalid: {exc.problem}", rendered.source or rendered.path, exc.line) from None
    try:
        old = yamlio.load(committed_text)
    except yamlio.InvalidYAML as exc:
        return STALE, (f"{rendered.role}: not valid YAML{exc.where} ({exc.problem})",)

    from gecko_trace_check import yamlcmp

    old, new = yamlcmp.without_keys(old, ignore_keys), yamlcmp.without_keys(new, ignore_keys)
    if old == new:
        return FORMAT_ONLY, (f"{rendered.role}: formatting differs",)
    describe = yamlcmp.schema_changes if rendered.role == "schema.yaml" else yamlcmp.key_changes
    return STALE, tuple(f"{rendered.role}: {change}" for change in describe(old, new) or ["content changed"])


def compare_file(rendered: RenderedFile, committed: bytes | None, tree: Tree, ignore_keys: Sequence[str] = ()) -> FileResult:
    def result(status: str, changes: Iterable[str] = (), diff: str = "") -> FileResult:
        return FileResult(rendered.path, status, rendered.object, rendered.object_type, rendered.role, tuple(changes), diff, rendered.content)

    if committed is None:
        return result(MISSING, [f"{rendered.role}: missing"])
    if committed == rendered.content:
        return result(IN_SYNC)
    try:
        committed_text = committed.decode("utf-8")
    except UnicodeDecodeError as exc:
        return result(STALE, [f"{rendered.role}: not valid UTF-8 (byte {exc.start})"])
    if rendered.role.endswith(".sql"):
        return result(*_compare_sql(rendered, committed_text, tree.shown(rendered.path)))
    return result(*_compare_yaml(rendered, committed_text, ignore_keys))


def _orphan(path: str) -> FileResult:
    parts = path.split("/")
    dataset, name = (parts[1], parts[2]) if len(parts) == 4 else (parts[1], "")
    role = parts[-1]
    return FileResult(path, ORPHANED, object_name(dataset, name), object_type(dataset, name), role, (f"{role}: no longer generated",))


def compare(rendered: Sequence[RenderedFile], tree: Tree, ignore_keys: Sequence[str] = ()) -> list[FileResult]:
    """Every rendered file with its status, then every orphaned owned file."""
    results = [compare_file(file, tree.read(file.path), tree, ignore_keys) for file in rendered]
    produced = {file.path for file in rendered}
    projects = dict.fromkeys(file.project for file in rendered)
    for project in projects:
        results += [_orphan(path) for path in tree.owned_files(project) if path not in produced]
    return results


def summary(results: Iterable[FileResult]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result.status] += 1
    return counts
