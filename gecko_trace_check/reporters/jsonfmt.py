"""``--format json``: one object, the schema documented in DESIGN.md and the README."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass

from gecko_trace_check.reporters import Outcome

VERSION = 1


def document(outcome: Outcome) -> dict:
    return {
        "version": VERSION,
        "sql_dir": outcome.sql_dir,
        "target_project": outcome.target_project,
        "applications": list(outcome.applications),
        "summary": outcome.summary,
        "files": [
            {
                "path": outcome.shown(result.path),
                "status": result.status,
                "object": result.object,
                "object_type": result.object_type,
                "role": result.role,
                "changes": list(result.changes),
            }
            for result in outcome.files
        ],
        "findings": [_finding(outcome, finding) for finding in outcome.findings],
    }


def _finding(outcome: Outcome, finding) -> dict:
    """A lint finding, its path shown like the files' (``--sql-dir`` joined with it)."""
    entry = asdict(finding) if is_dataclass(finding) else dict(finding)
    if entry.get("path"):
        entry["path"] = outcome.shown(entry["path"])
    return entry


def render(outcome: Outcome) -> str:
    return json.dumps(document(outcome), indent=2)
