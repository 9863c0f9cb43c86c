"""The lint cache: a render that was linted before is not parsed again.

Every check runs the lint, and parsing SQL means importing sqlglot, which alone costs
more than the whole in-sync check. So findings are stored under a key that covers
everything they depend on in the render (see ``lint.cache_key``), together with the
paths of the committed tree the lint looked at and whether each existed: a hit whose
paths still exist (or not) as before is returned without parsing anything.

The cache is an optimisation, never a reason to fail: an unreadable or corrupt entry
is a miss, and a cache folder that cannot be written is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ENV_VAR = "GECKO_TRACE_CHECK_CACHE"
FORMAT = 1  # of an entry's JSON; a change makes old entries misses
KEEP_ENTRIES = 64  # a few renders per checkout; older entries are pruned on write


def cache_dir() -> Path:
    """``$GECKO_TRACE_CHECK_CACHE``, else ``$XDG_CACHE_HOME/gecko-trace-check``, else ``~/.cache/...``."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "gecko-trace-check"


def _entry(key: str) -> Path:
    return cache_dir() / f"lint-{key}.json"


def load(key: str, root: Path) -> list[dict[str, Any]] | None:
    """The cached findings (as dicts), or None on a miss.

    ``root`` is the committed sql tree: every path the lint consulted must exist, or
    not, as it did when the entry was written.
    """
    try:
        entry = json.loads(_entry(key).read_bytes())
        if entry.get("format") != FORMAT:
            return None
        for relpath, existed in entry["consulted"]:
            if os.path.exists(root / relpath if relpath else root) != bool(existed):
                return None
        findings = entry["findings"]
        if not isinstance(findings, list) or not all(isinstance(finding, dict) for finding in findings):
            return None
        return findings
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def store(key: str, findings: Sequence[dict[str, Any]], consulted: dict[str, bool]) -> None:
    """Write an entry atomically (a temporary file, then ``os.replace``); never raise."""
    entry = {"format": FORMAT, "consulted": sorted(consulted.items()), "findings": list(findings)}
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=".lint-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(entry, stream)
        os.replace(tmp, _entry(key))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return
    _prune(folder)


def _prune(folder: Path) -> None:
    """Keep the newest entries: each template change adds one, none is ever reused after."""
    with contextlib.suppress(OSError):
        entries = sorted(folder.glob("lint-*.json"), key=lambda path: path.stat().st_mtime, reverse=True)
        for stale in entries[KEEP_ENTRIES:]:
            stale.unlink(missing_ok=True)
