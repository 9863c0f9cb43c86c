"""The lint rules, run on a render: what would fail only once BigQuery runs the pipeline.

1. valid-sql: every SQL file parses as BigQuery (and is the statement its name says).
2. query-schema: a table's query outputs its schema.yaml fields, by name and in order.
3. metadata-schema: partitioning and clustering name schema fields BigQuery accepts.
4. references: tables inside the generator's namespace are produced by this render,
   tables outside it exist in the committed tree, columns read from a table of this
   render are in its schema.
5. views: a view is ``application`` followed by the columns of the tables it unions,
   for every configured application.
6. routines: every ``mozfun.<dataset>.<routine>(...)`` exists in the committed tree.

This module imports sqlglot; ``lint`` loads it only when the cache has no answer.

Cost: the derived files of two applications usually differ only in the application id,
so they are analysed once per distinct text, with the id replaced by a placeholder (see
``SharedContext``), and the findings are copied to each application. A view that is a
plain UNION ALL of ``SELECT "<app_id>" AS application, * FROM <a table of this render>``
is checked branch by branch from the schemas, without qualifying the N-way union. So a
cold lint of 300 applications costs little more than one of 3.
"""

from __future__ import annotations

import functools
import itertools
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema

from gecko_trace_check import yamlio
from gecko_trace_check.config import Config
from gecko_trace_check.lint import ERROR, WARNING, Finding, TreeProbe
from gecko_trace_check.render import AGGREGATES_DATASET, DERIVED_SUFFIX, RenderedFile
from gecko_trace_check.sqlrefs import routine_calls, tables_read
from gecko_trace_check.tree import TABLE_PREFIX

DIALECT = "bigquery"
PARTITION_TYPES = ("DATE", "TIMESTAMP", "DATETIME")  # BigQuery's time-unit column partitioning
MAX_CLUSTERING_FIELDS = 4
ROUTINE_FILES = ("udf.sql", "stored_procedure.sql")
# Types sqlglot reads as they are; anything else only needs a name for column resolution.
SCALAR_TYPES = {"STRING", "BYTES", "INT64", "INTEGER", "FLOAT64", "FLOAT", "NUMERIC", "BIGNUMERIC", "BOOL", "BOOLEAN",
                "DATE", "DATETIME", "TIME", "TIMESTAMP", "JSON", "GEOGRAPHY", "INTERVAL"}

TableName = tuple[str, str, str]  # project, dataset, table
RoutineCall = tuple[str, str, int | None, int | None]  # dataset, routine, line, column
# A name sqlglot's schema normalisation and `*` expansion leave exactly as they are.
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# Line breaks other than "\n": with one of them, line numbers could be counted differently.
ODD_BREAKS = (b"\r", b"\x0b", b"\x0c", "\x85".encode(), "\u2028".encode(), "\u2029".encode())


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


def run(cfg: Config, rendered: Sequence[RenderedFile], probe: TreeProbe) -> list[Finding]:
    context = Context(cfg, probe, list(rendered))
    for file in rendered:
        if file.role == "schema.yaml":
            _load_schema(context, file)  # every schema: views and other tables look them up
    shared: list[Finding] = []
    calls: dict[str, list[RoutineCall]] = {}
    covered: set[str] = set()  # the files whose findings come from a shared analysis
    for placeholder, files, apps in _shareable_groups(context):
        _share(context, placeholder, files, apps, shared, calls, covered)
    _check(context, [file for file in rendered if file.path not in covered])
    findings = [finding for finding in context.findings if finding.path not in covered] + shared
    calls.update(context.routine_calls)
    done = len(context.findings)
    _check_routines(context, rendered, calls)
    findings += context.findings[done:]
    order = {file.path: index for index, file in enumerate(rendered)}
    return sorted(findings, key=lambda f: (order.get(f.path, len(order)), f.line or 0, f.column or 0))


def _check(context: Context, files: Sequence[RenderedFile]) -> None:
    """Rules 1-5 on ``files`` (their schemas are loaded)."""
    parsed = [file for file in files if file.role.endswith(".sql") and _parse_sql(context, file)]
    for file in files:
        if file.role == "metadata.yaml" and file.object_type == "table":
            _check_metadata(context, file)
    for file in parsed:
        statement = context.statements[file.path]
        _check_tables(context, statement)
        _collect_routine_calls(context, statement)
        query = _query_of(statement)
        if query is None:
            continue
        if file.object_type == "view":
            branches = _plain_view_branches(context, query)
            if branches is not None:  # what qualify would make of them, without qualifying the union
                _check_view(context, statement, branches)
                continue
        qualified = _qualify(context, file, query)
        if qualified is None:
            continue
        _check_columns_read(context, file, qualified)
        if file.object_type == "table" and file.role == "query.sql":
            _check_query_schema(context, file, query, qualified)
        elif file.object_type == "view":
            _check_view(context, statement, [_qualified_branch(context, branch) for branch in _branches(qualified)])


# -- applications that share a template ---------------------------------------------------


@dataclass
class SharedContext(Context):
    """The derived files of one application with its id replaced by a placeholder.

    They are analysed once for every application whose files read the same apart from the
    id. What the rules look up outside these files (a table's schema, whether the render
    produces a table, whether a folder exists) is asked of the real render for ``app`` and
    remembered: the findings hold for another application that gets the same answers, with
    the placeholder replaced by its id (and columns moved by the difference in length).
    """

    base: Context | None = None
    placeholder: str = ""
    app: str = ""
    facts: dict[tuple[str, object], object] = field(default_factory=dict)  # in the order asked
    shareable: bool = True  # False: these findings do not carry over, the files are linted one by one

    def schema(self, name: TableName) -> Schema | None:
        return self._fact("schema", name)  # type: ignore[return-value]

    def is_produced(self, name: TableName) -> bool:
        return bool(self._fact("produced", name))

    def owned(self, name: TableName) -> bool:
        return bool(self._fact("owned", name))

    def exists(self, relpath: str) -> bool:
        return bool(self._fact("exists", relpath))

    def opaque(self) -> None:
        self.shareable = False

    def sqlglot_schema(self, query: exp.Expression) -> MappingSchema:
        """The tables ``query`` names, under the names it gives them."""
        assert self.base is not None
        self.base.sqlglot_schema(query)  # the render's schemas must be valid for sqlglot, as for the real files
        ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
        mapping: dict = {}
        for table in query.find_all(exp.Table):
            name = _table_name(self, table)
            if name is None or len(table.parts) > 3:
                if name is not None or table.name not in ctes:
                    self.shareable = False  # sqlglot would look for it among all the render's tables
                continue
            schema = self.schema(name)
            if schema is not None:
                mapping.setdefault(name[0], {}).setdefault(name[1], {})[name[2]] = _sqlglot_columns(schema)
        try:
            return MappingSchema(mapping, dialect=DIALECT)
        except (SqlglotError, ValueError, KeyError):
            self.shareable = False
            raise

    def _fact(self, kind: str, argument: object) -> object:
        key = (kind, argument)
        if key not in self.facts:
            answer = self._answer(kind, argument, self.app)
            if kind == "schema" and not self._comparable(answer, self.app):
                self.shareable = False
            self.facts[key] = answer
        return self.facts[key]

    def _comparable(self, schema: object, app: str) -> bool:
        """Can the placeholder text be checked against this schema as it is for ``app``?

        One of these files' schemas, yes. Another table's schema holds real names: one with
        ``app`` in it could match a column of the text for this application and not for
        another that gets the same schema.
        """
        if not isinstance(schema, Schema) or any(schema is own for own in self.schemas.values()):
            return True
        return app.encode() not in schema.file.content

    def _real(self, argument: object, app: str) -> object:
        if isinstance(argument, str):
            return argument.replace(self.placeholder, app)
        return tuple(part.replace(self.placeholder, app) for part in argument)  # type: ignore[union-attr]

    def _answer(self, kind: str, argument: object, app: str) -> object:
        assert self.base is not None
        real = self._real(argument, app)
        if kind == "exists":
            return self.base.exists(real)  # type: ignore[arg-type]
        if kind == "owned":
            return self.base.owned(real)  # type: ignore[arg-type]
        if kind == "produced":
            return self.base.is_produced(real)  # type: ignore[arg-type]
        project, dataset, table = real  # type: ignore[misc]
        if dataset == f"{app}{DERIVED_SUFFIX}" and project == self.files[0].project:
            return self.schemas.get((project, self.files[0].dataset, table))  # one of these files
        return self.base.schema(real)  # type: ignore[arg-type]

    def holds_for(self, app: str) -> bool:
        """Does ``app`` get the answers ``self.app`` got? (Asked in the same order, up to the first difference.)"""
        for (kind, argument), answer in self.facts.items():
            other = self._answer(kind, argument, app)
            if other is not answer and other != answer or not self._comparable(other, app):
                return False
        return True

    def mapped(self, app: str) -> tuple[list[Finding], dict[str, list[RoutineCall]]] | None:
        """The findings and routine calls of ``app``'s files; None if a position cannot be moved."""
        lines = {file.path: file.content.decode("utf-8", errors="replace").split("\n") for file in self.files}

        def real(text: str) -> str:
            return text.replace(self.placeholder, app)

        def column(path: str, line: int | None, col: int | None) -> int | None:
            return _moved(lines[path], line, col, self.placeholder, app)

        try:
            findings = [Finding(f.severity, f.rule, real(f.object), real(f.path), f.line, column(f.path, f.line, f.column), real(f.message))
                        for f in self.findings]
            calls = {real(path): [(real(dataset), real(routine), line, column(path, line, col)) for dataset, routine, line, col in sites]
                     for path, sites in self.routine_calls.items()}
        except (KeyError, ValueError):
            return None
        return findings, calls


def _moved(lines: list[str], line: int | None, column: int | None, placeholder: str, app: str) -> int | None:
    """A column of a line of the placeholder text, in that line with ``app`` in its place."""
    if line is None or column is None:
        return column
    if not 1 <= line <= len(lines):
        raise ValueError(f"no line {line}")
    text, shift = lines[line - 1], 0
    at = text.find(placeholder)
    while at != -1 and at < column - 1:
        if at + len(placeholder) > column - 1:
            raise ValueError("a position inside the application id")
        shift += len(app) - len(placeholder)
        at = text.find(placeholder, at + len(placeholder))
    return column + shift


def _placeholder(context: Context) -> str:
    """An identifier that is nowhere in the render, its paths or the configuration."""
    names = [context.cfg.target_project, context.shown(""), *context.cfg.applications, *(file.path for file in context.files)]
    for number in itertools.count():
        candidate = f"gtc{number}app"
        data = candidate.encode()
        if not any(candidate in name for name in names) and not any(data in file.content for file in context.files):
            return candidate
    raise AssertionError("unreachable")


WORD = re.compile(r"[A-Z_][A-Z0-9_]*")


@functools.lru_cache(maxsize=1)
def _special_words() -> frozenset[str]:
    """Upper-case words sqlglot's BigQuery tokenizer or parser treat specially (keywords,
    function names, words its code compares a token with), YAML's special scalars and the
    words these rules look for.

    An application id that is one of them, or is part of one in a file, may read
    differently from the placeholder, so its files are linted on their own.
    """
    words = {"TRUE", "FALSE", "NULL", "YES", "NO", "ON", "OFF", "Y", "N", "INF", "NAN", "MOZFUN", "APPLICATION"}

    def constants(code: types.CodeType) -> None:
        for constant in code.co_consts:
            if isinstance(constant, str) and WORD.fullmatch(constant):
                words.add(constant)
            elif isinstance(constant, types.CodeType):
                constants(constant)

    dialect = sqlglot.Dialect.get_or_raise(DIALECT)
    for cls in (type(dialect), dialect.tokenizer_class, dialect.parser_class):
        for base in cls.__mro__:
            for value in vars(base).values():
                value = getattr(value, "__func__", value)  # classmethod, staticmethod
                if isinstance(value, types.FunctionType):
                    constants(value.__code__)
                elif isinstance(value, (dict, set, frozenset, tuple, list)):
                    words.update(part.upper() for key in value if isinstance(key, str) for part in key.split())
    return frozenset(words)


def _shareable_groups(context: Context) -> list[tuple[str, list[RenderedFile], list[str]]]:
    """(placeholder, files, applications): the applications whose derived files are these
    files with the placeholder replaced by their id."""
    by_dataset: dict[str, list[RenderedFile]] = {}
    for file in context.files:
        by_dataset.setdefault(file.dataset, []).append(file)
    placeholder = _placeholder(context)
    marker = placeholder.encode()
    groups: dict[tuple[tuple[str, str, str, bytes], ...], list[str]] = {}
    for app in context.cfg.applications:
        files, token = by_dataset.get(f"{app}{DERIVED_SUFFIX}", []), app.encode()
        forms = tuple((file.project, file.name, file.role, file.content.replace(token, marker)) for file in files)
        if files and all(form[3].replace(marker, token) == file.content and not any(odd in file.content for odd in ODD_BREAKS)
                         for form, file in zip(forms, files)):
            groups.setdefault(forms, []).append(app)
    shareable = []
    special = _special_words()
    for forms, apps in groups.items():
        # The words around the id: with another id in their place, they must stay plain names.
        words = {word for form in forms for word in re.findall(rb"\w*" + marker + rb"\w*", form[3])}
        apps = [app for app in apps if not any(_special(word.replace(marker, app.encode()).decode(), special) for word in words)]
        if apps:
            dataset = f"{placeholder}{DERIVED_SUFFIX}"
            shareable.append((placeholder, [RenderedFile(project, dataset, name, role, form) for project, name, role, form in forms], apps))
    return shareable


def _special(word: str, special: frozenset[str]) -> bool:
    return word[:1].isdigit() or word.upper() in special


def _share(context: Context, placeholder: str, files: list[RenderedFile], apps: list[str],
           findings: list[Finding], calls: dict[str, list[RoutineCall]], covered: set[str]) -> None:
    """Lint ``files`` once for all ``apps`` that get the same answers; add what each
    application gets to ``findings`` and ``calls``, and its files to ``covered``."""
    pending = apps
    while pending:
        shared = SharedContext(context.cfg, context.probe, files, yaml_cache=context.yaml_cache,
                               base=context, placeholder=placeholder, app=pending[0])
        for file in files:
            if file.role == "schema.yaml":
                _load_schema(shared, file)
        _check(shared, files)
        if not shared.shareable:
            return
        rest = []
        for app in pending:
            if app != shared.app and not shared.holds_for(app):
                rest.append(app)  # e.g. its raw ping table exists and the others' do not
                continue
            mapped = shared.mapped(app)
            if mapped is None:
                return
            findings += mapped[0]
            calls.update(mapped[1])
            covered.update(file.path.replace(placeholder, app) for file in files)
        pending = rest


# -- 1. valid SQL ---------------------------------------------------------------------


def _parse_sql(context: Context, file: RenderedFile) -> bool:
    """Rule 1; True when the file holds the statement its name says (then it is in ``context.statements``)."""
    text = file.content.decode("utf-8", errors="replace")
    try:
        expressions = [expression for expression in sqlglot.parse(text, read=DIALECT) if expression is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, column = first.get("line"), first.get("col")
        highlight = first.get("highlight") or ""
        if isinstance(column, int) and highlight:  # sqlglot points at the token's last character
            column = max(1, column - len(highlight) + 1)
        description = first.get("description")
        if not description:
            description = str(exc).splitlines()[0]
            context.opaque()
        near = f" (at {highlight!r})" if highlight else ""
        context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {description}{near}", line, column)
        return False
    except TokenError as exc:
        cause = str(exc.__cause__ or exc)
        # sqlglot's tokenizer says "Missing ' from <line>:<offset of the opening quote>".
        match = re.search(r"^(Missing .+) from \d+:(\d+)$", cause)
        if match and int(match.group(2)) < len(text):
            offset = int(match.group(2))
            line, column = text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)
            context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {match.group(1)} (never closed)", line, column)
        else:
            context.opaque()
            context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {cause}")
        return False
    if not expressions:
        context.add(ERROR, "valid-sql", file, f"{file.role} holds no SQL statement")
        return False
    if file.role == "view.sql":
        create = expressions[0]
        if len(expressions) != 1 or not isinstance(create, exp.Create) or create.kind != "VIEW" or not isinstance(create.expression, exp.Query):
            context.add(ERROR, "valid-sql", file, "view.sql must be one CREATE VIEW ... AS <query> statement", *_position(create))
            return False
    elif file.role == "query.sql":
        if len(expressions) != 1 or not isinstance(expressions[0], exp.Query):
            context.add(ERROR, "valid-sql", file, "query.sql must be one query (SELECT ...)", *_position(expressions[-1]))
            return False
    context.statements[file.path] = Statement(file, expressions)
    return True


def _position(node: exp.Expression | None) -> tuple[int | None, int | None]:
    """Line and (1-based) column where a node's first token starts, if sqlglot kept it."""
    best: tuple[int, int, int] | None = None
    for child in node.walk() if node is not None else ():
        meta = child.meta if child.meta else None
        if meta and "line" in meta and "start" in meta:
            start = (meta["start"], meta["line"], meta["col"] - (meta["end"] - meta["start"]))
            best = start if best is None or start < best else best
    return (best[1], best[2]) if best else (None, None)


def _query_of(statement: Statement) -> exp.Query | None:
    first = statement.expressions[0]
    if statement.file.role == "view.sql" and isinstance(first, exp.Create):
        return first.expression
    if statement.file.role == "query.sql" and isinstance(first, exp.Query):
        return first
    return None  # script.sql: parsed (rule 1) and its routines checked, not its columns


# -- 2. query vs schema -----------------------------------------------------------------


def _check_query_schema(context: Context, file: RenderedFile, query: exp.Query, qualified: exp.Query) -> None:
    schema = context.schema((file.project, file.dataset, file.name))
    if schema is None:
        context.add(ERROR, "query-schema", file, "the table has a query but no schema.yaml")
        return
    if any(_is_star(select) for select in qualified.selects):
        return  # `*` from a table outside this render: its columns are not known here
    produced, declared = qualified.named_selects, schema.names
    where = {name: _position(select) for name, select in zip(produced, qualified.selects)}
    star = next((select for select in query.selects if _is_star(select)), None)
    for name in produced:
        if name not in declared:
            line, column = where[name] if where[name][0] else _position(star)
            context.add(ERROR, "query-schema", file, f"column {name} is in query.sql but not in schema.yaml", line, column)
    schema_file = schema.file
    for name in declared:
        if name not in produced:
            context.add(ERROR, "query-schema", schema_file, f"field {name} is in schema.yaml but {file.role} does not produce it",
                        *schema.position(name))
    common_produced = [name for name in produced if name in declared]
    common_declared = [name for name in declared if name in produced]
    if common_produced != common_declared:
        index = next(i for i, (a, b) in enumerate(zip(common_produced, common_declared)) if a != b)
        name = common_produced[index]
        context.add(
            ERROR, "query-schema", file,
            f"columns are not in schema.yaml's order: {name} comes where schema.yaml has {common_declared[index]} "
            f"(schema.yaml order: {', '.join(common_declared)})",
            *where[name],
        )


def _is_star(select: exp.Expression) -> bool:
    return isinstance(select, exp.Star) or (isinstance(select, exp.Column) and isinstance(select.this, exp.Star))


# -- schemas and metadata (3) ------------------------------------------------------------


def _yaml(file: RenderedFile, context: Context) -> tuple[object, yaml.Node | None] | None:
    # Parsed once per distinct text: every application has the same schema.yaml.
    parsed = context.yaml_cache.get(file.content)
    if parsed is None:
        parsed = context.yaml_cache[file.content] = _parse_yaml(file.content)
    if parsed[0] == "error":
        _, message, line, column, opaque = parsed
        if opaque:
            context.opaque()
        context.add(ERROR, "valid-yaml", file, message, line, column)
        return None
    return parsed[1], parsed[2]


def _parse_yaml(content: bytes) -> tuple:
    """("ok", document, node) or ("error", message, line, column, whether the message quotes a position)."""
    try:
        document, node = yamlio.load_with_nodes(content.decode("utf-8", errors="replace"))
    except yamlio.InvalidYAML as exc:
        return "error", f"not valid YAML: {exc.problem}", exc.line, None, False
    return "ok", document, node


def _node(node: yaml.Node | None, *keys: str | int) -> yaml.Node | None:
    for key in keys:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            node = next((value for name, value in node.value if getattr(name, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return None
    return node


def _where(node: yaml.Node | None) -> tuple[int | None, int | None]:
    return (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (None, None)


def _load_schema(context: Context, file: RenderedFile) -> None:
    loaded = _yaml(file, context)
    if loaded is None:
        return
    document, root = loaded
    entries = document.get("fields") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) and entry.get("name") for entry in entries):
        context.add(ERROR, "valid-yaml", file, "schema.yaml must hold a `fields` list of fields with a name")
        return
    lines = [_where(_node(root, "fields", index)) for index in range(len(entries))]
    context.schemas[(file.project, file.dataset, file.name)] = Schema(file, entries, lines)


def _check_metadata(context: Context, file: RenderedFile) -> None:
    loaded = _yaml(file, context)
    if loaded is None:
        return
    document, root = loaded
    bigquery = document.get("bigquery") if isinstance(document, dict) else None
    if not isinstance(bigquery, dict):
        return
    schema = context.schema((file.project, file.dataset, file.name))
    if schema is None:
        return
    partitioning = bigquery.get("time_partitioning")
    partition_field = partitioning.get("field") if isinstance(partitioning, dict) else None
    if partition_field is not None:
        where = _where(_node(root, "bigquery", "time_partitioning", "field"))
        field_type = schema.field_type(str(partition_field))
        if field_type is None:
            context.add(ERROR, "metadata-schema", file, f"partition field {partition_field} is not a field of schema.yaml", *where)
        elif field_type not in PARTITION_TYPES:
            context.add(ERROR, "metadata-schema", file,
                        f"partition field {partition_field} is {field_type}: BigQuery partitions by a DATE, TIMESTAMP or DATETIME column",
                        *where)
    clustering = bigquery.get("clustering")
    clustering_fields = clustering.get("fields") if isinstance(clustering, dict) else None
    if not isinstance(clustering_fields, list):
        return
    for index, name in enumerate(clustering_fields):
        if str(name) not in schema.names:
            context.add(ERROR, "metadata-schema", file, f"clustering field {name} is not a field of schema.yaml",
                        *_where(_node(root, "bigquery", "clustering", "fields", index)))
    if len(clustering_fields) > MAX_CLUSTERING_FIELDS:
        context.add(ERROR, "metadata-schema", file,
                    f"{len(clustering_fields)} clustering fields: BigQuery allows at most {MAX_CLUSTERING_FIELDS}",
                    *_where(_node(root, "bigquery", "clustering", "fields")))


# -- 4. references ---------------------------------------------------------------------


def _table_name(context: Context, table: exp.Table) -> TableName | None:
    if not table.db:
        return None  # a CTE, or a table BigQuery could only find through a default dataset
    return (table.catalog or context.cfg.target_project, table.db, table.name)


def _check_tables(context: Context, statement: Statement) -> None:
    file = statement.file
    reported: set[TableName] = set()
    for table in (table for expression in statement.expressions for table in tables_read(expression)):
        name = _table_name(context, table)
        if name is None or name in reported:
            continue
        reported.add(name)
        dotted = ".".join(name)
        if context.owned(name):
            if not context.is_produced(name):
                context.add(ERROR, "references", file, f"reads {dotted}, which this render does not produce", *_position(table))
        elif context.exists(""):  # without a committed tree there is nothing to look in
            folder = "/".join(name)
            if not context.exists(folder):
                context.add(WARNING, "references", file,
                            f"reads {dotted}, which is not in the sql tree (no {context.shown(folder)}/)", *_position(table))


def _sqlglot_schema(context: Context) -> dict:
    """The render's tables and views as a sqlglot schema: what `*` and columns resolve to."""
    mapping: dict = {}
    for (project, dataset, table), schema in context.schemas.items():
        if table:
            mapping.setdefault(project, {}).setdefault(dataset, {})[table] = _sqlglot_columns(schema)
    return mapping


def _sqlglot_columns(schema: Schema) -> dict[str, str]:
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


def _qualify(context: Context, file: RenderedFile, query: exp.Query) -> exp.Query | None:
    try:
        # Unknown columns must stay in the tree (not raise): _check_columns_read reports them all.
        return qualify(query.copy(), schema=context.sqlglot_schema(query), dialect=DIALECT, validate_qualify_columns=False,
                       allow_partial_qualification=True, quote_identifiers=False, identify=False)
    except (SqlglotError, ValueError, KeyError) as exc:
        context.add(WARNING, "references", file, f"cannot resolve the query's columns ({exc}); its columns were not checked",
                    *_position(query))
        return None


def _check_columns_read(context: Context, file: RenderedFile, qualified: exp.Query) -> None:
    """A column read from a table of this render must be one of its schema's fields."""
    reported: set[tuple[str, str]] = set()
    for scope in traverse_scope(qualified):
        known = {alias: _render_table(context, source) for alias, source in scope.sources.items()}
        aliases = set(scope.expression.named_selects) if isinstance(scope.expression, exp.Select) else set()
        for column in scope.columns:
            if column.table:
                if column.table not in known or known[column.table] is None:
                    continue  # a CTE, UNNEST or a table outside the render (or a struct path)
                candidates = [known[column.table]]
            else:
                # sqlglot qualifies every column it can resolve; one left bare was found in
                # none of the scope's tables. Judge it only when all of them are ours.
                if not known or any(schema is None for schema in known.values()):
                    continue
                if column.name in aliases and column.find_ancestor(exp.Group, exp.Order, exp.Having, exp.Qualify):
                    continue  # GROUP BY / ORDER BY may name a column of the select list
                candidates = list(known.values())
            if any(column.name in schema.names for schema in candidates):
                continue
            owners = " or ".join(".".join(schema.file.path.split("/")[:3]) for schema in candidates)
            if (column.name, owners) in reported:
                continue
            reported.add((column.name, owners))
            context.add(ERROR, "references", file, f"reads column {column.name} from {owners}, whose schema.yaml has no such field",
                        *_position(column))


def _render_table(context: Context, source: exp.Expression | Scope) -> Schema | None:
    if not isinstance(source, exp.Table):
        return None
    name = _table_name(context, source)
    return context.schema(name) if name else None


# -- 5. views -------------------------------------------------------------------------


@dataclass
class ViewBranch:
    """What rule 5 needs of one SELECT of a view."""

    select: exp.Expression  # the branch: where it is
    tables: list[TableName]  # the tables it reads
    application: exp.Expression | None  # its first output named application
    columns: list[str]  # its outputs, `*` expanded where the table is known
    star: bool  # a `*` is left: the outputs are not known


def _branches(query: exp.Expression) -> list[exp.Expression]:
    """The SELECTs of a UNION (left to right; a loop, not recursion: one level per application)."""
    branches, stack = [], [query]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.SetOperation):
            stack += [node.right, node.left]
        else:
            branches.append(node)
    return branches


def _qualified_branch(context: Context, branch: exp.Expression) -> ViewBranch:
    if not isinstance(branch, exp.Select):
        return ViewBranch(branch, [], None, [], False)
    tables = [name for name in (_table_name(context, table) for table in tables_read(branch)) if name]
    application = next((select for select in branch.selects if select.alias_or_name == "application"), None)
    return ViewBranch(branch, tables, application, branch.named_selects, any(_is_star(select) for select in branch.selects))


def _given(node: exp.Expression) -> set[str]:
    return {key for key, value in node.args.items() if value}


def _plain_view_branches(context: Context, query: exp.Expression) -> list[ViewBranch] | None:
    """The branches of a view that is a plain UNION of ``SELECT <literal> AS <name>, ..., *
    FROM <a table of this render>``, as qualify would expand them; None for any other view.

    Qualifying an N-way union costs more than N times one branch, and these need none: `*`
    is the table's schema.yaml fields in order, every column read is one of them.
    """
    try:
        context.sqlglot_schema(query)  # schemas sqlglot rejects: qualify reports it, as for any query
    except (SqlglotError, ValueError, KeyError):
        return None
    stack, branches = [query], []
    while stack:
        node = stack.pop()
        if isinstance(node, exp.SetOperation):
            if _given(node) - {"this", "expression", "distinct"}:
                return None  # ORDER BY, LIMIT, WITH, BY NAME, ...
            stack += [node.right, node.left]
            continue
        branch = _plain_branch(context, node)
        if branch is None:
            return None
        branches.append(branch)
    return branches


def _plain_branch(context: Context, select: exp.Expression) -> ViewBranch | None:
    if not isinstance(select, exp.Select) or _given(select) - {"expressions", "from_"}:
        return None
    source = select.args["from_"]
    table = source.this if not _given(source) - {"this"} else None
    if not isinstance(table, exp.Table) or _given(table) - {"this", "db", "catalog"}:
        return None
    if not all(isinstance(part, exp.Identifier) and part.name == part.name.lower() for part in table.parts):
        return None  # sqlglot may normalise the name's case
    name = _table_name(context, table)
    schema = context.schema(name) if name else None
    if schema is None or not schema.fields or not _plain_fields(schema.fields):
        return None
    outputs: list[tuple[str, exp.Expression | None]] = []
    for column in select.selects:
        if isinstance(column, exp.Star) and not _given(column):
            outputs += [(field_name, None) for field_name in dict.fromkeys(schema.names)]
        elif (isinstance(column, exp.Alias) and not _given(column) - {"this", "alias"}
              and isinstance(column.this, exp.Literal) and PLAIN_NAME.fullmatch(column.alias)):
            outputs.append((column.alias, column))
        else:
            return None
    if not outputs or outputs[0][1] is None:
        return None  # the branch's position is its first literal's
    # A column of the table named application is not the literal: as after qualify, no app id.
    application = next((node for output, node in outputs if output == "application"), None)
    return ViewBranch(select, [name], application, [output for output, _ in outputs], False)


def _plain_fields(entries: list) -> bool:
    """Names that qualify keeps as they are, and types it reads (a RECORD's fields too)."""
    for entry in entries:
        if not isinstance(entry, dict) or not PLAIN_NAME.fullmatch(str(entry.get("name"))):
            return False
        nested = entry.get("fields")
        if str(entry.get("type", "")).upper() in ("RECORD", "STRUCT") and isinstance(nested, list) and not _plain_fields(nested):
            return False
    return True


def _check_view(context: Context, statement: Statement, branches: list[ViewBranch]) -> None:
    file = statement.file
    create = statement.expressions[0]
    target = _table_name(context, create.this) if isinstance(create.this, exp.Table) else None
    expected_target = (file.project, file.dataset, file.name)
    if target is not None and target != expected_target:
        context.add(ERROR, "views", file, f"creates {'.'.join(target)}, but it is generated as {'.'.join(expected_target)}",
                    *_position(create.this))
    schema = context.schema(expected_target)
    seen_apps: dict[str, exp.Expression] = {}
    reported: set[str] = set()
    for view_branch in branches:
        branch = view_branch.select
        if not isinstance(branch, exp.Select):
            continue
        application = view_branch.application
        literal = application.this if isinstance(application, exp.Alias) else None
        app_id = literal.this if isinstance(literal, exp.Literal) and literal.is_string else None
        tables = view_branch.tables
        if app_id is None:
            context.add(ERROR, "views", file, "a branch of the view has no \"<app_id>\" AS application column", *_position(branch))
        else:
            seen_apps.setdefault(app_id, branch)
            derived = f"{app_id}{DERIVED_SUFFIX}"
            if tables and not any(dataset == derived for _, dataset, _ in tables):
                context.add(ERROR, "views", file,
                            f"the branch for {app_id} reads {', '.join('.'.join(name) for name in tables)}, not {derived}",
                            *_position(application))
        upstream = [found for found in (context.schema(name) for name in tables) if found is not None]
        if len(tables) != 1 or len(upstream) != 1:
            continue  # a join or a table outside the render: the columns are not a union of one table
        expected = ["application"] + upstream[0].names
        produced = view_branch.columns
        if not view_branch.star and produced != expected:
            message = f"outputs {', '.join(produced)}; expected application followed by the fields of {'.'.join(tables[0])}"
            if message not in reported:
                reported.add(message)
                context.add(ERROR, "views", file, message, *_position(branch))
        if schema is not None and schema.names != expected:
            missing = [name for name in expected if name not in schema.names]
            extra = [name for name in schema.names if name not in expected]
            parts = [f"missing {', '.join(missing)}" if missing else "", f"not in the tables: {', '.join(extra)}" if extra else ""]
            detail = "; ".join(part for part in parts if part) or "the fields are in another order"
            message = f"schema.yaml is not application followed by the fields of {tables[0][2]}: {detail}"
            if message not in reported:
                reported.add(message)
                line, column = schema.position((extra or missing or ["application"])[0])
                context.add(ERROR, "views", schema.file, message, line, column)
    for app_id in context.cfg.applications:
        if app_id not in seen_apps:
            context.add(ERROR, "views", file, f"application {app_id} is configured but not in the view")


# -- 6. routines ------------------------------------------------------------------------


def _collect_routine_calls(context: Context, statement: Statement) -> None:
    """Each routine a file calls, at its first call: rule 6 looks at all files at once."""
    seen: set[tuple[str, str]] = set()
    sites: list[RoutineCall] = []
    for expression in statement.expressions:
        for call in routine_calls(expression):
            if (call.dataset, call.routine) not in seen:
                seen.add((call.dataset, call.routine))
                sites.append((call.dataset, call.routine, *_position(call.node)))
    if sites:
        context.routine_calls[statement.file.path] = sites


def _check_routines(context: Context, files: Sequence[RenderedFile], calls: dict[str, list[RoutineCall]]) -> None:
    """One finding per missing routine, at its first call, counting the files calling it."""
    if not context.exists(""):
        return  # no committed tree (a first `generate`): nothing to look in
    sites: dict[tuple[str, str], list[tuple[RenderedFile, int | None, int | None]]] = {}
    for file in files:
        for dataset, routine, line, column in calls.get(file.path, ()):
            sites.setdefault((dataset, routine), []).append((file, line, column))
    has_mozfun = context.exists("mozfun")
    for (dataset, routine), callers in sites.items():
        folder = f"mozfun/{dataset}/{routine}"
        if has_mozfun and any(context.exists(f"{folder}/{name}") for name in ROUTINE_FILES):
            continue
        file, line, column = callers[0]
        also = f" (called in {len(callers)} files)" if len(callers) > 1 else ""
        if has_mozfun:
            context.add(ERROR, "routines", file,
                        f"calls mozfun.{dataset}.{routine}, which is not in the sql tree: "
                        f"no {context.shown(folder)}/udf.sql or stored_procedure.sql{also}", line, column)
        else:
            context.add(WARNING, "routines", file,
                        f"calls mozfun.{dataset}.{routine}; the sql tree has no {context.shown('mozfun')}/ folder "
                        f"to check it in{also}", line, column)
