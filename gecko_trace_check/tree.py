"""The committed sql tree: reading owned files and finding owned objects, safely.

Only the project folder, the datasets the ``owned`` patterns name (by default every
``*_derived`` dataset, to find the tables of a removed application) and the owned objects
(``<project>/*_derived/gecko_trace_*/``, ``<project>/gecko_trace_aggregates/``) are
listed: the cost follows the generator's output, not the size of the warehouse. No path is read, written or deleted through a link that leads
out of the sql tree.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from gecko_trace_check.errors import InputError
from gecko_trace_check.render import AGGREGATES_DATASET, OWNED_NAMES

# What the generator owns below <sql-dir>/<project>/ (the ``owned`` setting): its tables
# in every application's dataset, and the whole aggregates dataset.
TABLE_PREFIX = "gecko_trace_"
DEFAULT_OWNED = (f"*_derived/{TABLE_PREFIX}*", AGGREGATES_DATASET)


def shown(display: str, relpath: str) -> str:
    """A path below the sql dir as the user would type it (``--sql-dir`` joined with it)."""
    return f"{display.rstrip('/')}/{relpath}" if display not in ("", ".") else relpath


class Tree:
    def __init__(self, root: Path, display: str, owned: tuple[str, ...] = DEFAULT_OWNED) -> None:
        self.root = root
        self.display = display
        self.owned = owned
        self._real_root = os.path.realpath(root)
        # Folder -> its real path: a check reads thousands of files in a few hundred
        # folders, and resolving every file's full path again costs one lstat per level.
        self._real_folders: dict[str, str] = {}

    def shown(self, relpath: str) -> str:
        return shown(self.display, relpath)

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
            raise InputError("is a file where the generator needs a folder", self.shown(self.blocking_file(relpath))) from None
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", self.shown(relpath)) from None

    def blocking_file(self, relpath: str) -> str:
        """The first file on the way to ``relpath`` that stands where a folder is needed."""
        parts = relpath.split("/")
        for depth in range(len(parts) - 1):
            candidate = "/".join(parts[: depth + 1])
            if os.path.lexists(self.root / candidate) and not os.path.isdir(self.root / candidate):
                return candidate
        return relpath

    def _entries(self, relpath: str, *, folders: bool) -> list[str]:
        """Names of the sub-folders (or of the files) of a folder; [] when it is not one.

        Listing only reads names, so it does not go through the link guard: a dataset
        that is a link out of the tree stays harmless until the tool would own something
        in it, and ``owned_objects`` refuses that.
        """
        try:
            with os.scandir(self.root / relpath) as entries:
                return sorted(entry.name for entry in entries if entry.is_dir() == folders)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise InputError(f"cannot list: {exc.strerror}", self.shown(relpath)) from None

    def owned_objects(self, project: str) -> list[str]:
        """Folders (below the tree) the generator owns, by the ``owned`` patterns.

        ``dataset-glob/table-glob`` owns matching table folders; a bare ``dataset-glob``
        owns the dataset folder and every object folder in it.
        """
        datasets = self._entries(project, folders=True)
        objects: list[str] = []
        for pattern in self.owned:
            dataset_glob, _, table_glob = pattern.partition("/")
            for dataset in fnmatch.filter(datasets, dataset_glob):
                tables = self._entries(f"{project}/{dataset}", folders=True)
                if table_glob:
                    found = [f"{project}/{dataset}/{table}" for table in fnmatch.filter(tables, table_glob)]
                else:
                    found = [f"{project}/{dataset}"] + [f"{project}/{dataset}/{table}" for table in tables]
                objects += [folder for folder in found if folder not in objects]
        for folder in objects:  # never delete through a link that leads out of the tree
            self.guard(folder)
        return objects

    def owned_files(self, project: str) -> list[str]:
        """Every file with an owned name inside an owned object."""
        return [
            f"{folder}/{name}"
            for folder in self.owned_objects(project)
            for name in self._entries(folder, folders=False)
            if name in OWNED_NAMES
        ]
