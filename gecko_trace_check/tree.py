"""The committed sql tree: reading owned files and finding owned objects, safely.

Only the owned objects are ever listed (``<project>/*_derived/gecko_trace_*/`` and
``<project>/gecko_trace_aggregates/``): the cost follows the generator's output, not the
size of the warehouse. No path is read, written or deleted through a link that leads
out of the sql tree.
"""

from __future__ import annotations

import os
from pathlib import Path

from gecko_trace_check.errors import InputError
from gecko_trace_check.render import AGGREGATES_DATASET, DERIVED_SUFFIX, OWNED_NAMES

TABLE_PREFIX = "gecko_trace_"


class Tree:
    def __init__(self, root: Path, display: str) -> None:
        self.root = root
        self.display = display
        self._real_root = os.path.realpath(root)
        # Folder -> its real path: a check reads thousands of files in a few hundred
        # folders, and resolving every file's full path again costs one lstat per level.
        self._real_folders: dict[str, str] = {}

    def shown(self, relpath: str) -> str:
        """A path below the tree as the user would type it (``--sql-dir`` joined with it)."""
        return f"{self.display.rstrip('/')}/{relpath}" if self.display not in ("", ".") else relpath

    def guard(self, relpath: str) -> Path:
        """``root/relpath``, refusing a path that a link leads out of the tree."""
        path = self.root / relpath
        existing = path
        while not os.path.lexists(existing) and existing != self.root and existing.parent != existing:
            existing = existing.parent
        real = self._realpath(existing)
        if real != self._real_root and not real.startswith(self._real_root.rstrip(os.sep) + os.sep):
            raise InputError(
                f"leads out of the sql tree (to {real}): refusing to read or write through a link",
                self.shown(relpath),
            )
        return path

    def _realpath(self, path: Path | str, *, folder: bool = False) -> str:
        """``os.path.realpath(path)``, resolving each folder once: one lstat per new name."""
        path = str(path)
        if folder and path in self._real_folders:
            return self._real_folders[path]
        parent, name = os.path.split(path)
        if not parent or not name or name in (".", "..") or parent == path:
            real = os.path.realpath(path)
        else:
            real = os.path.join(self._realpath(parent, folder=True), name)
            if os.path.islink(real):
                real = os.path.realpath(real)
        if folder:
            self._real_folders[path] = real
        return real

    def read(self, relpath: str) -> bytes | None:
        """The committed bytes, or None when the file does not exist."""
        path = self.guard(relpath)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise InputError("is a folder where the generator writes a file", self.shown(relpath)) from None
        except NotADirectoryError:
            raise InputError("a file stands where the generator needs a folder", self.shown(relpath)) from None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", self.shown(relpath)) from None

    def _folders(self, relpath: str) -> list[str]:
        try:
            with os.scandir(self.guard(relpath)) as entries:
                return sorted(entry.name for entry in entries if entry.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise InputError(f"cannot list: {exc.strerror}", self.shown(relpath)) from None

    def _owned_names(self, relpath: str) -> list[str]:
        try:
            with os.scandir(self.guard(relpath)) as entries:
                return sorted(entry.name for entry in entries if entry.name in OWNED_NAMES and not entry.is_dir())
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise InputError(f"cannot list: {exc.strerror}", self.shown(relpath)) from None

    def owned_objects(self, project: str) -> list[str]:
        """Folders (below the tree) the generator owns: its tables and the aggregates dataset."""
        objects = []
        for dataset in self._folders(project):
            if dataset.endswith(DERIVED_SUFFIX):
                objects += [f"{project}/{dataset}/{table}" for table in self._folders(f"{project}/{dataset}") if table.startswith(TABLE_PREFIX)]
        aggregates = f"{project}/{AGGREGATES_DATASET}"
        objects += [aggregates] + [f"{aggregates}/{view}" for view in self._folders(aggregates)]
        return objects

    def owned_files(self, project: str) -> list[str]:
        """Every file with an owned name inside an owned object."""
        return [f"{folder}/{name}" for folder in self.owned_objects(project) for name in self._owned_names(folder)]
