"""What the lint rules share about one render: its files, its schemas and statements
once parsed, the findings so far, and the render's tables as sqlglot sees them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.schema import MappingSchema

from gecko_trace_check.config import Config
from gecko_trace_check.lint import Finding, TreeProbe
from gecko_trace_check.render import AGGREGATES_DATASET, DERIVED_SUFFIX, RenderedFile
from gecko_trace_check.tree import TABLE_PREFIX

DIALECT = "bigquery"
# Types sqlglot reads as they are; anything else only needs a name for column resolution.
SCALAR_TYPES = {"STRING", "BYTES", "INT64", "INTEGER", "FLOAT64", "FLOAT", "NUMERIC", "BIGNUMERIC", "BOOL", "BOOLEAN",
                "DATE", "DATETIME", "TIME", "TIMESTAMP", "JSON", "GEOGRAPHY", "INTERVAL"}

TableName = tuple[str, str, str]  # project, dataset, table
RoutineCall = tuple[str, str, int | None, int | None]  # dataset, routine, line, column


@dataclass
class Schema:
    """A parsed schema.yaml: its top-level fields, and where each one is in the file."""

    file: RenderedFile
    fields: list[dict]
    lines: list[tuple[int | None, int | None]]

    @property
    def names(self) -> list[str]:
        return [str(entry.get("name")) for entry in self.fields]

    def field_type(self, name: str) -> str | None:
        for entry in self.fields:
            if entry.get("name") == name:
                return str(entry.get("type", "")).upper()
        return None

    def position(self, name: str) -> tuple[int | None, int | None]:
        for entry, where in zip(self.fields, self.lines):
            if entry.get("name") == name:
                return where
        return None, None


@dataclass
class Statement:
    file: RenderedFile
    expressions: list[exp.Expression]


@dataclass
class Context:
    """The render being linted, and what the rules look up about it."""

    cfg: Config
    probe: TreeProbe
    files: list[RenderedFile]
    schemas: dict[TableName, Schema] = field(default_factory=dict)
    statements: dict[str, Statement] = field(default_factory=dict)  # by path
    findings: list[Finding] = field(default_factory=list)
    routine_calls: dict[str, list[RoutineCall]] = field(default_factory=dict)  # by path: each routine's first call
    yaml_cache: dict[bytes, tuple] = field(default_factory=dict)  # content -> parsed: each application has the same schemas
    produced: set[TableName] = field(init=False)
    _mapping: MappingSchema | BaseException | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        # Once per run: rule 4 asks it for every table every file reads.
        self.produced = {(file.project, file.dataset, file.name) for file in self.files if file.name}

    def add(self, severity: str, rule: str, file: RenderedFile, message: str,
            line: int | None = None, column: int | None = None) -> None:
        self.findings.append(Finding(severity, rule, file.object, file.path, line, column, message))

    def shown(self, relpath: str) -> str:
        return self.probe.shown(relpath)

    def schema(self, name: TableName) -> Schema | None:
        return self.schemas.get(name)

    def is_produced(self, name: TableName) -> bool:
        return name in self.produced

    def owned(self, name: TableName) -> bool:
        """Inside the generator's namespace: the render must produce it."""
        project, dataset, table = name
        if project != self.cfg.target_project:
            return False
        return dataset == AGGREGATES_DATASET or (dataset.endswith(DERIVED_SUFFIX) and table.startswith(TABLE_PREFIX))

    def exists(self, relpath: str) -> bool:
        return self.probe.exists(relpath)

    def sqlglot_schema(self, query: exp.Expression) -> MappingSchema:
        """Every table of the render for ``qualify``: built once, not once per file (that was
        quadratic in the applications). A render whose schemas sqlglot rejects raises, each time."""
        if self._mapping is None:
            try:
                self._mapping = MappingSchema(_sqlglot_schema(self), dialect=DIALECT)
            except (SqlglotError, ValueError, KeyError) as exc:
                self._mapping = exc
        if isinstance(self._mapping, BaseException):
            raise self._mapping
        return self._mapping

    def opaque(self) -> None:
        """A message quotes the text around a position (it cannot be shared between applications)."""


def table_name(context: Context, table: exp.Table) -> TableName | None:
    if not table.db:
        return None  # a CTE, or a table BigQuery could only find through a default dataset
    return (table.catalog or context.cfg.target_project, table.db, table.name)


def _sqlglot_schema(context: Context) -> dict:
    """The render's tables and views as a sqlglot schema: what `*` and columns resolve to."""
    mapping: dict = {}
    for (project, dataset, table), schema in context.schemas.items():
        if table:
            mapping.setdefault(project, {}).setdefault(dataset, {})[table] = sqlglot_columns(schema)
    return mapping


def sqlglot_columns(schema: Schema) -> dict[str, str]:
    return {str(entry["name"]): _sqlglot_type(entry) for entry in schema.fields}


def _sqlglot_type(entry: dict) -> str:
    kind = str(entry.get("type", "")).upper()
    nested = entry.get("fields")
    if kind in ("RECORD", "STRUCT") and isinstance(nested, list) and nested:
        members = ", ".join(f"`{item.get('name')}` {_sqlglot_type(item)}" for item in nested if isinstance(item, dict))
        base = f"STRUCT<{members}>"
    else:
        base = kind if kind in SCALAR_TYPES else "STRING"
    return f"ARRAY<{base}>" if str(entry.get("mode", "")).upper() == "REPEATED" else base
