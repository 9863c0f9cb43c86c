"""Emitters: one check outcome -> text, json, github or markdown.

Every format reads the same ``Outcome`` (the per-file results and the lint findings);
adding a format never touches the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gecko_trace_check.compare import FORMAT_ONLY, FileResult, summary
from gecko_trace_check.tree import shown


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class ObjectDrift:
    """The files of one table, view or dataset, with what the fix would do to it."""

    object: str
    object_type: str
    files: tuple[FileResult, ...]

    @property
    def changes(self) -> list[str]:
        """What changed, file by file: ``schema.yaml: field x added (INT64)``."""
        return [change for result in self.files for change in result.changes]

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

    def shown(self, path: str) -> str:
        return shown(self.sql_dir, path)

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

    def drift_counts(self, objects: Sequence[ObjectDrift]) -> str:
        """``2 changed, 1 missing, 1 orphaned; 10 in sync``"""
        kinds = {"~": 0, "+": 0, "-": 0}
        for drift in objects:
            kinds[drift.symbol] += 1
        in_sync = self.object_count - len(objects)
        return f"{kinds['~']} changed, {kinds['+']} missing, {kinds['-']} orphaned; {in_sync} in sync"

    @property
    def format_only_note(self) -> str:
        """``12 files differ only in formatting (not drift)``, or "" when none does (or --strict)."""
        count = self.summary[FORMAT_ONLY]
        if not count or self.strict:
            return ""
        return f"{plural(count, 'file')} differ{'s' if count == 1 else ''} only in formatting (not drift)"

    @property
    def lint_errors(self) -> list[Any]:
        return [f for f in self.findings if f.severity == "error" or (self.strict and f.severity == "warning")]

    @property
    def exit_code(self) -> int:
        return 1 if self.drift or self.lint_errors else 0


def print_report(text: str) -> None:
    """Print to stdout; a reader that leaves early (``| head``) does not change the verdict."""
    import os
    import sys

    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
