"""``--format markdown``: a pull-request summary (a comment, or the job's step summary).

A heading with the verdict, a table of drifted objects and what changed, the SQL diffs in
collapsible blocks, and the command that fixes it. GitHub refuses comments longer than
65,536 characters, so the summary never is: diffs are left out first, then table rows,
and the summary says what it left out.
"""

from __future__ import annotations

import html
import re
import sys

from gecko_trace_check.compare import FileResult
from gecko_trace_check.reporters import ObjectDrift, Outcome, plural

MAX_CHARS = 65_536  # GitHub's limit for an issue or pull-request comment body
# Room kept for the line that says what was left out.
_CUT_NOTE_ROOM = 400
_SPECIAL = re.compile(r"([\\`*_\[\]<|~])")


def cell(text: str) -> str:
    """Text for a table cell: markdown and HTML characters escaped, one line."""
    return _SPECIAL.sub(r"\\\1", text).replace("\r", "").replace("\n", "<br>")


def _code(text: str) -> str:
    """An inline code span (its backticks cannot be escaped, so fence around them)."""
    ticks = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    # In a table, GitHub splits cells on "|" before it reads code spans; an escaped one stays.
    text = text.replace("|", "\\|")
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _fence(body: str, info: str) -> str:
    ticks = "`" * max(3, max((len(run) for run in re.findall(r"`{3,}", body)), default=0) + 1)
    return f"{ticks}{info}\n{body}\n{ticks}"


def _row(drift: ObjectDrift) -> str:
    changes = "<br>".join(cell(change) for change in drift.changes)
    return f"| `{drift.symbol}` | {drift.object_type} | {_code(drift.object)} | {changes} |"


def _diff_block(outcome: Outcome, result: FileResult) -> str:
    changed = sum(1 for line in result.diff.splitlines()[2:] if line[:1] in "+-")
    # Markdown is not read inside an HTML line: the path goes in <code>, HTML-escaped.
    summary = f"<code>{html.escape(outcome.shown(result.path))}</code>: {plural(changed, 'changed line')}"
    # <details> needs blank lines around its markdown body to render it as markdown.
    return f"<details><summary>{summary}</summary>\n\n{_fence(result.diff, 'diff')}\n\n</details>"


def _finding_row(outcome: Outcome, finding: object) -> str:
    path = getattr(finding, "path", "") or ""
    where = outcome.shown(path) if path else getattr(finding, "object", "")
    line = getattr(finding, "line", None)
    if path and line:
        where += f":{line}"
    severity = getattr(finding, "severity", "")
    message, rule = getattr(finding, "message", ""), getattr(finding, "rule", "")
    return f"| {severity} | {_code(where) if where else ''} | {cell(message)} | {_code(rule) if rule else ''} |"


def _heading(outcome: Outcome, objects: list[ObjectDrift]) -> list[str]:
    if objects:
        verdict = f"drift in {plural(len(objects), 'object')}"
        counts = outcome.drift_counts(objects) + "."
    elif outcome.lint_errors:
        verdict, counts = "lint errors", f"In sync: {plural(outcome.object_count, 'object')}."
    else:
        verdict, counts = "in sync", f"{plural(outcome.object_count, 'object')}, {plural(len(outcome.files), 'file')}."
    lines = [f"### Gecko Trace SQL: {verdict}", "", counts]
    if outcome.format_only_note:
        lines.append(outcome.format_only_note + ".")
    return lines


def _take(blocks: list[str], budget: int) -> tuple[list[str], int, int]:
    """The blocks that fit in ``budget`` characters, in order; what is left; how many were cut."""
    kept = []
    for block in blocks:
        if len(block) + 1 <= budget:
            kept.append(block)
            budget -= len(block) + 1
    return kept, budget, len(blocks) - len(kept)


def render(outcome: Outcome, *, max_chars: int = MAX_CHARS) -> str:
    objects = outcome.objects()
    head = _heading(outcome, objects)
    rows = [_row(drift) for drift in objects]
    findings = [_finding_row(outcome, finding) for finding in outcome.findings]
    diffs = [_diff_block(outcome, result) for result in outcome.drift if result.diff]
    footer = ["", "To fix it, run:", "", _fence(outcome.fix_command, "sh")] if objects else []

    fixed = "\n".join(head + footer)
    framing = 200  # table headers and blank lines between the sections
    budget = max_chars - len(fixed) - framing - _CUT_NOTE_ROOM
    # Rows and findings come before diffs: the diffs are cut first.
    rows, budget, rows_cut = _take(rows, budget)
    findings, budget, findings_cut = _take(findings, budget)
    diffs, budget, diffs_cut = _take(diffs, budget)

    lines = list(head)
    if rows:
        lines += ["", "| | type | object | what changed |", "|---|---|---|---|", *rows]
    if findings:
        lines += ["", "| lint | where | finding | rule |", "|---|---|---|---|", *findings]
    for block in diffs:
        lines += ["", block]
    cut = [plural(count, what) for count, what in ((rows_cut, "object"), (findings_cut, "lint finding"), (diffs_cut, "diff")) if count]
    if cut:
        note = f"_Left out to stay within GitHub's {max_chars:,}-character limit: {', '.join(cut)}._"
        lines += ["", note + " Run `gecko-trace-check` locally, or see the job log, for the full report."]
    text = "\n".join(lines + footer)
    if len(text) > max_chars:  # only a pathological fix command gets here
        note = "\n\n_Cut at GitHub's comment limit._"
        text = text[: max_chars - len(note)] + note
    return text


def append_step_summary(outcome: Outcome, path: str) -> None:
    """Add the summary to the job's step summary; a failure to write never fails the check."""
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(render(outcome) + "\n")
    except OSError as exc:
        print(f"gecko-trace-check: warning: cannot write the step summary to {path}: {exc.strerror or exc}", file=sys.stderr)
