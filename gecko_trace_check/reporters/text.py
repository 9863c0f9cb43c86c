"""The default report: reads like a plan (``+`` create, ``~`` change, ``-`` delete)."""

from __future__ import annotations

import os
from typing import TextIO

from gecko_trace_check.compare import MISSING, ORPHANED
from gecko_trace_check.reporters import ObjectDrift, Outcome, plural

SHORT_DIFF_LINES = 12
COLORS = {"+": "32", "-": "31", "~": "33", "@": "36", "error": "31", "warning": "33", "bold": "1"}


def use_color(stream: TextIO) -> bool:
    """Colour on a terminal; ``NO_COLOR`` turns it off, ``FORCE_COLOR`` on (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        return f"\x1b[{COLORS[style]}m{text}\x1b[0m" if self.color else text


def _diff_line(line: str, paint: _Painter) -> str:
    style = {"+": "+", "-": "-", "@": "@"}.get(line[:1])
    return paint(line, style) if style else line


def _short(diff: str) -> list[str]:
    """The first lines of a diff (after its file header), saying what was cut."""
    lines = diff.splitlines()[2:]
    if len(lines) <= SHORT_DIFF_LINES:
        return lines
    return lines[:SHORT_DIFF_LINES] + [f"... {len(lines) - SHORT_DIFF_LINES} more diff lines (--diff shows all)"]


def _object_lines(drift: ObjectDrift, width: int, full_diff: bool, paint: _Painter) -> list[str]:
    kind = f"{drift.object_type:<5}"
    head = f"{paint(drift.symbol, drift.symbol)} {kind} {drift.object}"
    roles = ", ".join(result.role for result in drift.files)
    if drift.symbol == "+":
        return [f"{head:<{width}}   missing: {roles}"]
    if drift.symbol == "-":
        return [f"{head:<{width}}   no longer generated: {plural(len(drift.files), 'file')} ({roles})"]
    lines = [head]
    for result in drift.files:
        lines += [f"    {change}" for change in result.changes]
        if result.diff:
            shown = result.diff.splitlines()[2:] if full_diff else _short(result.diff)
            lines += [f"      {_diff_line(line, paint)}" for line in shown]
    return lines


def _finding_lines(outcome: Outcome, paint: _Painter) -> list[str]:
    lines = []
    for finding in outcome.findings:
        where = outcome.shown(finding.path) if finding.path else finding.object
        if finding.line:
            where += f":{finding.line}" + (f":{finding.column}" if finding.column else "")
        severity = paint(f"{finding.severity:<7}", finding.severity if finding.severity in COLORS else "bold")
        lines.append(f"{severity} {where}: {finding.message} [{finding.rule}]")
    return lines


def render_findings(outcome: Outcome, *, color: bool = False) -> str:
    """The lint alone (``gecko-trace-check lint``, ``generate --lint``): findings and a count."""
    lines = _finding_lines(outcome, _Painter(color))
    errors = len(outcome.lint_errors)
    if lines:
        lines += ["", f"Lint: {plural(errors, 'error')}, {plural(len(outcome.findings) - errors, 'warning')}."]
    else:
        lines.append("Lint: no findings.")
    return "\n".join(lines)


def _fix_plan(outcome: Outcome) -> str:
    """``rewrite 6 files and delete 3``; ``write`` when every file to write is missing."""
    writes = [result for result in outcome.drift if result.status != ORPHANED]
    deletes = sum(1 for result in outcome.drift if result.status == ORPHANED)
    verb = "write" if all(result.status == MISSING for result in writes) else "rewrite"
    parts = [f"{verb} {plural(len(writes), 'file')}" if writes else "", f"delete {plural(deletes, 'file') if not writes else deletes}" if deletes else ""]
    return " and ".join(part for part in parts if part)


def render(outcome: Outcome, *, full_diff: bool = False, color: bool = False) -> str:
    paint = _Painter(color)
    objects = outcome.objects()
    # Dashes and pluses share one column for their trailing note, as in a plan.
    width = max((len(f"x {d.object_type:<5} {d.object}") for d in objects if d.symbol != "~"), default=0)
    width += len(paint("", "+"))
    lines: list[str] = []
    for drift in objects:
        lines += _object_lines(drift, width, full_diff, paint)
    if outcome.format_only_note:
        lines.append(f"  {outcome.format_only_note}")

    findings = _finding_lines(outcome, paint)
    if findings:
        lines += ["", *findings]

    lines.append("")
    if objects:
        lines.append(f"Drift in {plural(len(objects), 'object')}: {outcome.drift_counts(objects)}.")
        lines.append(f"Run `{outcome.fix_command}` to {_fix_plan(outcome)}.")
    else:
        lines.append(f"In sync: {plural(outcome.object_count, 'object')}, {plural(len(outcome.files), 'file')}.")
    errors, warnings = len(outcome.lint_errors), len(outcome.findings) - len(outcome.lint_errors)
    if outcome.findings:
        lines.append(f"Lint: {plural(errors, 'error')}, {plural(warnings, 'warning')}.")
    return "\n".join(line for line in (lines if lines[0] else lines[1:]))
