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
from gecko_trace_check.render import RenderedFile
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


def _remove_empty_owned_folders(tree: Tree, relpath: str, object_type: str) -> None:
    """Remove the owned folders a delete left empty: the object's, and the aggregates dataset's.

    A ``<app>_derived`` dataset folder is not ours and stays.
    """
    folder = tree.guard(relpath).parent
    folders = [folder, folder.parent] if object_type == "view" else [folder]
    for candidate in folders:
        with contextlib.suppress(OSError):  # not empty (a hand-written file stays) or gone
            candidate.rmdir()


@dataclass(frozen=True)
class Change:
    """One file to write (``content``) or to delete (``content`` None)."""

    path: str  # below the tree
    content: bytes | None
    object_type: str = "table"


def preflight(tree: Tree, changes: Sequence[Change]) -> None:
    """Refuse before the first write, not half-way through: links out, folders or files in the way."""
    if tree.root.exists() and not tree.root.is_dir():
        raise InputError("is a file where the sql folder should be", tree.display)
    for change in changes:
        path = tree.guard(change.path)
        if change.content is None:
            continue
        if path.is_dir():
            raise InputError("is a folder where the generator writes a file", tree.shown(change.path))
        blocking = tree.blocking_file(change.path)
        if blocking != change.path:
            raise InputError("is a file where the generator needs a folder", tree.shown(blocking))


def _apply(changes: Sequence[Change], tree: Tree, command: str, on_change: Callable[[str, str], None]) -> FixReport:
    preflight(tree, changes)
    report = FixReport()
    for index, change in enumerate(changes):
        try:
            if change.content is None:
                tree.guard(change.path).unlink(missing_ok=True)
                _remove_empty_owned_folders(tree, change.path, change.object_type)
                report.deleted.append(change.path)
                on_change("deleted", change.path)
            else:
                write_atomically(tree.guard(change.path), change.content)
                report.written.append(change.path)
                on_change("wrote", change.path)
        except OSError as exc:
            done = len(report.written) + len(report.deleted)
            action = "delete" if change.content is None else "write"
            raise InputError(
                f"cannot {action}: {exc.strerror or exc}; {command} stopped after {done} of {len(changes)} changes "
                f"({len(changes) - index} not made; every file is either wholly old or wholly new)",
                tree.shown(change.path),
            ) from None
    return report


def apply(
    results: Sequence[FileResult],
    tree: Tree,
    strict: bool = False,
    on_change: Callable[[str, str], None] = lambda action, path: None,
) -> FixReport:
    """Apply the plan; ``on_change(action, path)`` is told of each change as it lands."""
    changes = [
        Change(result.path, None if result.status == ORPHANED else result.rendered, result.object_type)
        for result in planned(results, strict)
    ]
    return _apply(changes, tree, "--fix", on_change)


def write_render(files: Sequence[RenderedFile], tree: Tree) -> FixReport:
    """``generate``: write every rendered file, with the same checks and atomic writes as --fix."""
    return _apply([Change(file.path, file.content) for file in files], tree, "generate", lambda action, path: None)
