"""Emitters: one check outcome -> text, json, github or markdown.

Every format reads the same ``Outcome`` (the per-file results and the lint findings);
adding a format never touches the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gecko_trace_check.compare import FileResult, summary


@dataclass(frozen=True)
class ObjectDrift:
    """The files of one table, view or dataset, with what the fix would do to it."""

    object: str
    object_type: str
    files: tuple[FileResult, ...]

    @property
    def symbol(self) -> str:
        statuses = {result.status for result in self.files}
        if statuses == {"missing"}:
            return "+"
        if statuses == {"orphaned"}:
            return "-"
        return "~"


@dataclass(frozen=True)
class Outcome:
    sql_dir: str  # as the user typed it
    target_project: str
    applications: tuple[str, ...]
    files: Sequence[FileResult]
    findings: Sequence[Any] = ()
    strict: bool = False
    fix_command: str = "gecko-trace-check --fix"
    fixed: Sequence[str] = field(default_factory=tuple)  # paths --fix changed, as shown

    def shown(self, path: str) -> str:
        return f"{self.sql_dir.rstrip('/')}/{path}" if self.sql_dir not in ("", ".") else path

    @property
    def summary(self) -> dict[str, int]:
        return summary(self.files)

    @property
    def drift(self) -> list[FileResult]:
        return [result for result in self.files if result.is_drift(self.strict)]

    def objects(self) -> list[ObjectDrift]:
        """Drifted objects, in render order (orphans last)."""
        grouped: dict[str, list[FileResult]] = {}
        for result in self.drift:
            grouped.setdefault(result.object, []).append(result)
        return [ObjectDrift(name, files[0].object_type, tuple(files)) for name, files in grouped.items()]

    @property
    def object_count(self) -> int:
        return len({result.object for result in self.files})

    @property
    def lint_errors(self) -> list[Any]:
        return [f for f in self.findings if f.severity == "error" or (self.strict and f.severity == "warning")]

    @property
    def exit_code(self) -> int:
        return 1 if self.drift or self.lint_errors else 0


def emit(fmt: str, outcome: Outcome, *, full_diff: bool = False, color: bool = False) -> str:
    if fmt == "json":
        from gecko_trace_check.reporters import jsonfmt

        return jsonfmt.render(outcome)
    if fmt == "github":
        from gecko_trace_check.reporters import github

        return github.render(outcome)
    if fmt == "markdown":
        from gecko_trace_check.reporters import markdown

        return markdown.render(outcome)
    from gecko_trace_check.reporters import text

    return text.render(outcome, full_diff=full_diff, color=color)
