"""The generator: Jinja2 templates -> the files of the Gecko Trace pipeline.

The rules are those of bigquery-etl's ``sql_generators/gecko_trace`` (see DESIGN.md,
"Templates"), so a warehouse that keeps its own templates gets byte for byte what
``bqetl generate gecko_trace`` writes. Rendering happens in memory; ``write`` puts the
result on disk for ``generate``, and the check compares it without writing anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from gecko_trace_check.errors import InputError

PING_NAME = "gecko_trace"
AGGREGATES_DATASET = "gecko_trace_aggregates"
DERIVED_SUFFIX = "_derived"

# The file names the generator writes: the only names the tool ever owns.
SQL_NAMES = ("query.sql", "script.sql", "view.sql")
OWNED_NAMES = frozenset((*SQL_NAMES, "metadata.yaml", "schema.yaml", "backfill.yaml", "dataset_metadata.yaml"))
RENDERED_YAML = ("metadata.yaml", "backfill.yaml")


@dataclass(frozen=True)
class RenderedFile:
    """One file of the render, addressed by its path below the sql dir."""

    project: str
    dataset: str
    name: str  # the table or view; "" for a dataset-level file
    role: str  # the file name: query.sql, schema.yaml, ...
    content: bytes
    source: str = ""  # the template it came from, for error messages

    @property
    def path(self) -> str:
        parts = [self.project, self.dataset, self.name, self.role]
        return "/".join(part for part in parts if part)

    @property
    def object(self) -> str:
        return object_name(self.dataset, self.name)

    @property
    def object_type(self) -> str:
        return object_type(self.dataset, self.name)


def object_name(dataset: str, name: str) -> str:
    """The object as BigQuery names it: ``dataset.table`` or ``dataset``."""
    return f"{dataset}.{name}" if name else dataset


def object_type(dataset: str, name: str) -> str:
    if not name:
        return "dataset"
    return "view" if dataset == AGGREGATES_DATASET else "table"


def default_templates() -> Path:
    """The templates shipped inside the package (or beside it in a checkout)."""
    packaged = Path(__file__).parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / "templates"


def _environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(root),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def _template_line(exc: BaseException, filename: str) -> int | None:
    """The template line an error was raised at (Jinja rewrites its traceback)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_template(env: jinja2.Environment, root: Path, name: str, **context: object) -> bytes:
    path = root / name
    try:
        template = env.get_template(name)
        return template.render(**context).encode("utf-8")
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or str(path)
        raise InputError(f"template syntax error: {exc.message}", where, exc.lineno) from None
    except jinja2.TemplateNotFound as exc:
        raise InputError(f"template not found: {exc.name}", str(path)) from None
    except jinja2.UndefinedError as exc:
        raise InputError(f"undefined template variable: {exc.message}", str(path), _template_line(exc, str(path))) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 (byte {exc.start})", str(path)) from None
    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        # Errors a template raises at render time (a filter on the wrong type, ...).
        raise InputError(f"template error: {exc}", str(path), _template_line(exc, str(path))) from None
    except OSError as exc:
        raise InputError(f"cannot read template: {exc.strerror}", str(path)) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read template: {exc.strerror}", str(path)) from None


def _object_dirs(root: Path) -> list[Path]:
    """Template folders that become objects; ``_``-prefixed ones are include-only."""
    if not root.is_dir():
        return []
    return sorted(entry for entry in root.iterdir() if entry.is_dir() and not entry.name.startswith("_"))


def _template_files(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith("_"))


def check_templates(templates: Path) -> None:
    """Fail early, with the path, when ``templates`` is not a generator directory."""
    if not (templates / "derived").is_dir() and not (templates / "aggregates").is_dir():
        raise InputError("not a template directory (expected derived/ and aggregates/)", str(templates))


def render_derived(templates: Path, target_project: str, applications: Iterable[str]) -> list[RenderedFile]:
    root = templates / "derived"
    env = _environment(root)
    tables = [(folder, _template_files(folder)) for folder in _object_dirs(root)]
    schemas = {folder: _read_bytes(folder / "schema.yaml") for folder, entries in tables if folder / "schema.yaml" in entries}
    files = []
    for app_id in applications:
        dataset = f"{app_id}{DERIVED_SUFFIX}"
        for folder, entries in tables:
            if not any(entry.suffix == ".sql" for entry in entries):
                continue  # bqetl walks the SQL templates: a folder without one writes nothing
            for entry in entries:
                name = f"{folder.name}/{entry.name}"
                if entry.suffix == ".sql":
                    sql = _render_template(env, root, name, target_project=target_project, app_id=app_id, ping_name=PING_NAME)
                    content = sql + b"\n"
                elif entry.name in RENDERED_YAML:
                    content = _render_template(env, root, name, app_id=app_id)
                elif entry.name == "schema.yaml":
                    content = schemas[folder]
                else:
                    continue
                files.append(RenderedFile(target_project, dataset, folder.name, entry.name, content, str(entry)))
    return files


def render_aggregates(templates: Path, target_project: str, applications: Sequence[str]) -> list[RenderedFile]:
    root = templates / "aggregates"
    env = _environment(root)
    files = []
    if (root / "dataset_metadata.yaml").is_file():
        source = root / "dataset_metadata.yaml"
        files.append(RenderedFile(target_project, AGGREGATES_DATASET, "", source.name, _read_bytes(source), str(source)))
    for folder in _object_dirs(root):
        entries = _template_files(folder)
        sql_templates = [entry for entry in entries if entry.suffix == ".sql"]
        if not sql_templates:
            continue
        if len(sql_templates) > 1:
            names = ", ".join(entry.name for entry in sql_templates)
            raise InputError(f"a view has one SQL template, found {names}", str(folder))
        name = f"{folder.name}/{sql_templates[0].name}"
        sql = _render_template(env, root, name, target_project=target_project, applications=tuple(applications), ping_name=PING_NAME)
        files.append(RenderedFile(target_project, AGGREGATES_DATASET, folder.name, "view.sql", sql + b"\n", str(sql_templates[0])))
        for entry in entries:
            if entry.name in ("metadata.yaml", "schema.yaml"):
                files.append(RenderedFile(target_project, AGGREGATES_DATASET, folder.name, entry.name, _read_bytes(entry), str(entry)))
    return files


def check_yaml(files: Iterable[RenderedFile]) -> None:
    """Every YAML template must render to valid YAML: checked once per template, not per app.

    Otherwise ``generate`` would write a broken metadata.yaml and a check whose committed
    copy matches it byte for byte would call it in sync.
    """
    from gecko_trace_check import yamlio

    checked = set()
    for rendered in files:
        if not rendered.role.endswith(".yaml") or rendered.source in checked:
            continue
        checked.add(rendered.source)
        try:
            yamlio.load(rendered.content)
        except yamlio.InvalidYAML as exc:
            raise InputError(f"renders to invalid YAML: {exc.problem}", rendered.source, exc.line) from None


def render(templates: Path, target_project: str, applications: Sequence[str]) -> list[RenderedFile]:
    """Every file of the pipeline, in a stable order."""
    check_templates(templates)
    files = render_derived(templates, target_project, applications) + render_aggregates(templates, target_project, applications)
    check_yaml(files)
    return files
