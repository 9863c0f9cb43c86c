"""One validated ``Config``: CLI flags > ``[tool.gecko-trace-check]`` in pyproject.toml > defaults."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gecko_trace_check.errors import InputError, read_text
from gecko_trace_check.render import check_templates, default_templates
from gecko_trace_check.tree import DEFAULT_OWNED

DEFAULT_PROJECT = "moz-fx-data-shared-prod"
DEFAULT_APPLICATIONS = ("firefox_desktop", "org_mozilla_fenix_nightly", "org_mozilla_firefox_beta")
DEFAULT_SQL_DIR = "sql"
TOOL_TABLE = "tool.gecko-trace-check"

# BigQuery dataset names are letters, digits and underscores; we also ask for lower case
# and a leading letter, as every Glean application id has, and leave room for "_derived".
APP_ID = re.compile(r"[a-z][a-z0-9_]{0,1015}")
# Google Cloud project ids: 6 to 30 lower-case letters, digits and hyphens, starting with
# a letter and not ending with a hyphen.
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")

# Key name -> (type accepted, what to call it in an error).
KEYS: dict[str, tuple[type, str]] = {
    "sql-dir": (str, "a string"),
    "target-project": (str, "a string"),
    "applications": (list, "a list of strings"),
    "templates": (str, "a string"),
    "ignore-keys": (list, "a list of strings"),
    "owned": (list, "a list of strings"),
}


@dataclass(frozen=True)
class Config:
    sql_dir: Path
    target_project: str
    applications: tuple[str, ...]
    templates: Path
    ignore_keys: tuple[str, ...] = ()
    # What the tool owns below <sql-dir>/<project>/: "dataset-glob/table-glob" or "dataset-glob".
    owned: tuple[str, ...] = DEFAULT_OWNED
    # How the user would type sql_dir: paths in reports are this joined with the file's path.
    sql_dir_display: str = DEFAULT_SQL_DIR


def find_pyproject(start: Path) -> Path | None:
    """The pyproject.toml at the root of the repository ``start`` is in (or in ``start``)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            candidate = folder / "pyproject.toml"
            return candidate if candidate.is_file() else None
    candidate = start / "pyproject.toml"
    return candidate if candidate.is_file() else None


def read_settings(pyproject: Path) -> dict[str, object]:
    """The ``[tool.gecko-trace-check]`` table, type-checked, with unknown keys refused."""
    text = read_text(pyproject)
    # Imported here: a warehouse without a pyproject.toml never pays for the TOML parser.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else (text.count("\n") + 1 if "at end of document" in message else None)
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise InputError(f"invalid TOML: {message}", str(pyproject), line) from None
    tool = document.get("tool", {})
    if not isinstance(tool, Mapping):
        raise InputError("[tool] must be a table", str(pyproject))
    table = tool.get("gecko-trace-check", {})
    if not isinstance(table, Mapping):
        raise InputError(f"[{TOOL_TABLE}] must be a table", str(pyproject))
    settings: dict[str, object] = {}
    for key, value in table.items():
        if key not in KEYS:
            import difflib  # only for the error message: off the clean check's path

            near = difflib.get_close_matches(key, KEYS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known keys: {', '.join(KEYS)})"
            raise InputError(f"unknown key {key!r} in [{TOOL_TABLE}]{hint}", str(pyproject))
        expected, description = KEYS[key]
        if not isinstance(value, expected) or (expected is list and not all(isinstance(item, str) for item in value)):
            raise InputError(f"{key} in [{TOOL_TABLE}] must be {description}, not {value!r}", str(pyproject))
        settings[key] = value
    return settings


def validate_application(app_id: str, source: str) -> str:
    if not APP_ID.fullmatch(app_id):
        raise InputError(
            f"invalid application id {app_id!r}: use a lower-case BigQuery dataset name "
            "(letters a-z, digits and _, starting with a letter)",
            source,
        )
    return app_id


def validate_project(project: str, source: str) -> str:
    if not PROJECT_ID.fullmatch(project):
        raise InputError(
            f"invalid Google Cloud project id {project!r}: use 6-30 lower-case letters, digits "
            "and hyphens, starting with a letter",
            source,
        )
    return project


def validate_owned(patterns: list[str] | None, source: str) -> tuple[str, ...]:
    """Ownership patterns below the project folder: ``dataset-glob`` or ``dataset-glob/table-glob``."""
    if patterns is None:
        return DEFAULT_OWNED
    for pattern in patterns:
        parts = pattern.split("/")
        if not pattern or len(parts) > 2 or any(part in ("", ".", "..") for part in parts):
            raise InputError(
                f"invalid owned pattern {pattern!r}: use 'dataset-glob' or 'dataset-glob/table-glob', "
                "e.g. '*_derived/gecko_trace_*'",
                source,
            )
    return tuple(patterns)


def load(
    *,
    cwd: Path | None = None,
    sql_dir: str | None = None,
    target_project: str | None = None,
    applications: list[str] | None = None,
    templates: str | None = None,
    ignore_keys: list[str] | None = None,
) -> Config:
    """Merge flags (the keyword arguments; None = not given) over pyproject.toml over defaults."""

    cwd = Path.cwd() if cwd is None else cwd
    pyproject = find_pyproject(cwd)
    settings = read_settings(pyproject) if pyproject else {}
    file_source = str(pyproject) if pyproject else "configuration"
    root = pyproject.parent if pyproject else cwd

    def from_file(key: str) -> str | None:
        value = settings.get(key)
        return value if isinstance(value, str) else None

    def path_setting(flag: str | None, key: str) -> tuple[Path, str] | None:
        """A path and how to show it: flags are relative to cwd, the file to its folder."""
        if flag is not None:
            return cwd / flag, flag
        value = from_file(key)
        if value is None:
            return None
        path = root / value
        return path, os.path.relpath(path, cwd) if root != cwd and not Path(value).is_absolute() else value

    sql = path_setting(sql_dir, "sql-dir") or (root / DEFAULT_SQL_DIR, os.path.relpath(root / DEFAULT_SQL_DIR, cwd))
    template_setting = path_setting(templates, "templates")
    template_dir = template_setting[0] if template_setting else default_templates()
    if template_setting:
        check_templates(template_dir)

    project_source = "--target-project" if target_project is not None else file_source
    project = validate_project(target_project if target_project is not None else from_file("target-project") or DEFAULT_PROJECT, project_source)

    if applications is not None:
        apps, apps_source = applications, "--app"
    elif "applications" in settings:
        apps, apps_source = list(settings["applications"]), file_source  # type: ignore[call-overload]
    else:
        apps, apps_source = list(DEFAULT_APPLICATIONS), "defaults"
    if not apps:
        raise InputError("no applications configured: give at least one application id", apps_source)
    seen: set[str] = set()
    for app_id in apps:
        validate_application(app_id, apps_source)
        if app_id in seen:
            raise InputError(f"application {app_id!r} is listed twice", apps_source)
        seen.add(app_id)

    keys = list(settings.get("ignore-keys", [])) + list(ignore_keys or [])  # type: ignore[call-overload]
    return Config(
        sql_dir=sql[0],
        target_project=project,
        applications=tuple(apps),
        templates=template_dir,
        ignore_keys=tuple(dict.fromkeys(keys)),
        owned=validate_owned(settings.get("owned"), file_source),  # type: ignore[arg-type]
        sql_dir_display=sql[1],
    )
