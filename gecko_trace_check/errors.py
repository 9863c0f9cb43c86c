"""The one error type for bad input: it becomes one line on stderr and exit 2."""

from __future__ import annotations

import os
from pathlib import Path


class InputError(Exception):
    """A problem with the user's input (configuration, templates, committed files).

    ``str()`` is the line the user sees: ``path:line: message``.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(str(self))

    def relative_to(self, folder: str) -> str:
        """The line, with an absolute path below ``folder`` shortened to how one would type it."""
        path = self.path
        if path and os.path.isabs(path) and path.startswith(folder.rstrip(os.sep) + os.sep):
            return str(InputError(self.message, os.path.relpath(path, folder), self.line))
        return str(self)

    def __str__(self) -> str:
        where = self.path or ""
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


def read_text(path: Path) -> str:
    """A UTF-8 file's text; unreadable or not UTF-8 is an InputError naming it."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start})", str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", str(path)) from None
