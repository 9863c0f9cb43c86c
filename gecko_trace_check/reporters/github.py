"""``--format github``: GitHub Actions workflow commands, one annotation per drifted file.

``::error file=<path>,line=<n>,title=<object>::<what changed>``; the runner turns each
into an annotation on the pull request. Paths are as the user typed ``--sql-dir``, which
in a workflow is relative to the repository root, as GitHub wants them.
"""

from __future__ import annotations

import re

from gecko_trace_check.compare import FORMAT_ONLY, MISSING, ORPHANED, FileResult
from gecko_trace_check.reporters import Outcome, plural

# SQL changes name the committed file's line: "query.sql: line 12: MIN -> MAX".
_LINE = re.compile(r"^[^:]+: line (\d+):")


def escape_data(text: str) -> str:
    """The message part of a workflow command (the runner's own escaping rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A ``key=value`` property: also ``:`` and ``,``, which end a value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **properties: object) -> str:
    shown = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value not in (None, ""))
    return f"::{level}{' ' + shown if shown else ''}::{escape_data(message)}"


def first_line(result: FileResult) -> int:
    """Where the annotation goes: the first changed line where we know it, else line 1."""
    for change in result.changes:
        match = _LINE.match(change)
        if match:
            return int(match.group(1))
    return 1


def _message(result: FileResult) -> str:
    if result.status == MISSING:
        return f"{result.role}: missing; the render writes it"
    if result.status == ORPHANED:
        return f"{result.role}: no longer generated; --fix deletes it"
    if result.status == FORMAT_ONLY:
        return f"{result.role}: formatting differs from the render (--strict)"
    return "\n".join(result.changes) or f"{result.role}: changed"


def _file_commands(outcome: Outcome) -> list[str]:
    return [
        command(
            "notice" if result.status == FORMAT_ONLY else "error",
            _message(result),
            file=outcome.shown(result.path),
            line=first_line(result),
            title=result.object,
        )
        for result in outcome.drift
    ]


def _finding_commands(outcome: Outcome) -> list[str]:
    lines = []
    errors = {id(finding) for finding in outcome.lint_errors}
    for finding in outcome.findings:
        level = "error" if id(finding) in errors else "warning" if finding.severity == "warning" else "notice"
        path = getattr(finding, "path", "") or ""
        lines.append(
            command(
                level,
                f"{finding.message} [{finding.rule}]",
                file=outcome.shown(path) if path else None,
                line=getattr(finding, "line", None) if path else None,
                col=getattr(finding, "column", None) if path else None,
                title=getattr(finding, "object", "") or finding.rule,
            )
        )
    return lines


def _summary(outcome: Outcome) -> str:
    """A plain last line for the job log (not an annotation)."""
    drift = outcome.drift
    if not drift and not outcome.lint_errors:
        return f"gecko-trace-check: in sync ({outcome.object_count} objects, {len(outcome.files)} files)."
    parts = []
    if drift:
        parts.append(f"drift in {plural(len(outcome.objects()), 'object')} ({plural(len(drift), 'file')}); run `{outcome.fix_command}`")
    if outcome.lint_errors:
        parts.append(f"{len(outcome.lint_errors)} lint errors")
    return "gecko-trace-check: " + "; ".join(parts) + "."


def render(outcome: Outcome) -> str:
    return "\n".join([*_file_commands(outcome), *_finding_commands(outcome), _summary(outcome)])
