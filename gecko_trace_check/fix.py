"""``--fix``: apply the per-file results to the committed tree. It never decides, only applies.

Stale and missing files are written, orphaned owned files deleted (and owned folders
they leave empty); format-only files are the formatter's and stay unless ``strict``.
Each write is atomic: a temporary file in the same folder, then ``os.replace``, so a
killed run leaves every file wholly old or wholly new. (No fsync: that guards against a
power cut, not a killed process, and costs a disk flush per file on every fix; git,
which the tree lives in, doesn't fsync by default either.) Nothing is written through a
link that leads out of the sql tree: every path is checked before the first write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gecko_trace_check.compare import FORMAT_ONLY, MISSING, ORPHANED, STALE, FileResult
from gecko_trace_check.errors import InputError
from gecko_trace_check.tree import Tree


@dataclass
class FixReport:
    written: list[str] = field(default_factory=list)  # paths below the tree
    deleted: list[str] = field(default_factory=list)


def planned(results: Sequence[FileResult], strict: bool = False) -> list[FileResult]:
    rewrite = {STALE, MISSING, ORPHANED} | ({FORMAT_ONLY} if strict else set())
    return [result for result in results if result.status in rewrite]


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so that a reader sees the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_empty_owned_folders(tree: Tree, result: FileResult) -> None:
    """Remove the owned folders a delete left empty: the object's, and the aggregates dataset's.

    A ``<app>_derived`` dataset folder is not ours and stays.
    """
    folder = tree.guard(result.path).parent
    folders = [folder] if result.object_type == "table" else [folder, folder.parent] if result.object_type == "view" else [folder]
    for candidate in folders:
        with contextlib.suppress(OSError):  # not empty (a hand-written file stays) or gone
            candidate.rmdir()


def apply(
    results: Sequence[FileResult],
    tree: Tree,
    strict: bool = False,
    on_change: Callable[[str, str], None] = lambda action, path: None,
) -> FixReport:
    """Apply the plan; ``on_change(action, path)`` is told of each change as it lands."""
    plan = planned(results, strict)
    for result in plan:  # refuse before the first write, not half-way through
        tree.guard(result.path)
    report = FixReport()
    for index, result in enumerate(plan):
        try:
            if result.status == ORPHANED:
                tree.guard(result.path).unlink(missing_ok=True)
                _remove_empty_owned_folders(tree, result)
                report.deleted.append(result.path)
                on_change("deleted", result.path)
            else:
                assert result.rendered is not None
                write_atomically(tree.guard(result.path), result.rendered)
                report.written.append(result.path)
                on_change("wrote", result.path)
        except OSError as exc:
            done = len(report.written) + len(report.deleted)
            left = len(plan) - index
            action = "delete" if result.status == ORPHANED else "write"
            raise InputError(
                f"cannot {action}: {exc.strerror or exc}; --fix stopped after {done} of {len(plan)} changes "
                f"({left} not made; every file is either wholly old or wholly new)",
                tree.shown(result.path),
            ) from None
    return report
