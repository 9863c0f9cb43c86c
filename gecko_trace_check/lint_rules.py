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
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from gecko_trace_check.config import Config
from gecko_trace_check.lint import ERROR, WARNING, Finding, TreeProbe
from gecko_trace_check.render import AGGREGATES_DATASET, DERIVED_SUFFIX, RenderedFile
from gecko_trace_check.tree import TABLE_PREFIX

DIALECT = "bigquery"
PARTITION_TYPES = ("DATE", "TIMESTAMP", "DATETIME")  # BigQuery's time-unit column partitioning
MAX_CLUSTERING_FIELDS = 4
ROUTINE_FILES = ("udf.sql", "stored_procedure.sql")
# Types sqlglot reads as they are; anything else only needs a name for column resolution.
SCALAR_TYPES = {"STRING", "BYTES", "INT64", "INTEGER", "FLOAT64", "FLOAT", "NUMERIC", "BIGNUMERIC", "BOOL", "BOOLEAN",
                "DATE", "DATETIME", "TIME", "TIMESTAMP", "JSON", "GEOGRAPHY", "INTERVAL"}

TableName = tuple[str, str, str]  # project, dataset, table


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
    cfg: Config
    probe: TreeProbe
    files: list[RenderedFile]
    schemas: dict[TableName, Schema] = field(default_factory=dict)
    statements: dict[str, Statement] = field(default_factory=dict)  # by path
    findings: list[Finding] = field(default_factory=list)

    def add(self, severity: str, rule: str, file: RenderedFile, message: str,
            line: int | None = None, column: int | None = None) -> None:
        self.findings.append(Finding(severity, rule, file.object, file.path, line, column, message))

    @property
    def produced(self) -> set[TableName]:
        return {(file.project, file.dataset, file.name) for file in self.files if file.name}

    def shown(self, relpath: str) -> str:
        return self.probe.shown(relpath)


def run(cfg: Config, rendered: Sequence[RenderedFile], probe: TreeProbe) -> list[Finding]:
    context = Context(cfg, probe, list(rendered))
    for file in rendered:
        if file.role == "schema.yaml":
            _load_schema(context, file)
        elif file.role.endswith(".sql"):
            _parse_sql(context, file)
    for file in rendered:
        if file.role == "metadata.yaml" and file.object_type == "table":
            _check_metadata(context, file)
    mapping = _sqlglot_schema(context)
    for statement in context.statements.values():
        file = statement.file
        _check_tables(context, statement)
        query = _query_of(statement)
        if query is None:
            continue
        qualified = _qualify(context, file, query, mapping)
        if qualified is None:
            continue
        _check_columns_read(context, file, qualified)
        if file.object_type == "table" and file.role == "query.sql":
            _check_query_schema(context, file, query, qualified)
        elif file.object_type == "view":
            _check_view(context, statement, qualified)
    _check_routines(context)
    order = {file.path: index for index, file in enumerate(rendered)}
    return sorted(context.findings, key=lambda f: (order.get(f.path, len(order)), f.line or 0, f.column or 0))


# -- 1. valid SQL ---------------------------------------------------------------------


def _parse_sql(context: Context, file: RenderedFile) -> None:
    text = file.content.decode("utf-8", errors="replace")
    try:
        expressions = [expression for expression in sqlglot.parse(text, read=DIALECT) if expression is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, column = first.get("line"), first.get("col")
        highlight = first.get("highlight") or ""
        if isinstance(column, int) and highlight:  # sqlglot points at the token's last character
            column = max(1, column - len(highlight) + 1)
        description = first.get("description") or str(exc).splitlines()[0]
        near = f" (at {highlight!r})" if highlight else ""
        context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {description}{near}", line, column)
        return
    except TokenError as exc:
        cause = str(exc.__cause__ or exc)
        # sqlglot's tokenizer says "Missing ' from <line>:<offset of the opening quote>".
        match = re.search(r"^(Missing .+) from \d+:(\d+)$", cause)
        if match and int(match.group(2)) < len(text):
            offset = int(match.group(2))
            line, column = text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)
            context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {match.group(1)} (never closed)", line, column)
        else:
            context.add(ERROR, "valid-sql", file, f"not valid BigQuery SQL: {cause}")
        return
    if not expressions:
        context.add(ERROR, "valid-sql", file, f"{file.role} holds no SQL statement")
        return
    if file.role == "view.sql":
        create = expressions[0]
        if len(expressions) != 1 or not isinstance(create, exp.Create) or create.kind != "VIEW" or not isinstance(create.expression, exp.Query):
            context.add(ERROR, "valid-sql", file, "view.sql must be one CREATE VIEW ... AS <query> statement", *_position(create))
            return
    elif file.role == "query.sql":
        if len(expressions) != 1 or not isinstance(expressions[0], exp.Query):
            context.add(ERROR, "valid-sql", file, "query.sql must be one query (SELECT ...)", *_position(expressions[-1]))
            return
    context.statements[file.path] = Statement(file, expressions)


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
    schema = context.schemas.get((file.project, file.dataset, file.name))
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
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = file.content.decode("utf-8", errors="replace")
    try:
        return yaml.load(text, Loader=loader), yaml.compose(text, Loader=loader)  # noqa: S506 - safe loaders
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context.add(ERROR, "valid-yaml", file, f"not valid YAML: {problem}",
                    mark.line + 1 if mark else None, mark.column + 1 if mark else None)
        return None


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
    schema = context.schemas.get((file.project, file.dataset, file.name))
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


def _owned(context: Context, name: TableName) -> bool:
    project, dataset, table = name
    if project != context.cfg.target_project:
        return False
    return dataset == AGGREGATES_DATASET or (dataset.endswith(DERIVED_SUFFIX) and table.startswith(TABLE_PREFIX))


def _tables_read(statement: exp.Expression) -> Iterator[exp.Table]:
    """The tables a statement reads: not its CTEs, not the table a CREATE/INSERT/... writes."""
    ctes = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    written = {id(node.this) for node in statement.find_all(exp.Create, exp.Insert, exp.Merge, exp.Update, exp.Delete)}
    for table in statement.find_all(exp.Table):
        if id(table) not in written and (table.db or table.name not in ctes):
            yield table


def _check_tables(context: Context, statement: Statement) -> None:
    file = statement.file
    produced = context.produced
    reported: set[TableName] = set()
    for table in (table for expression in statement.expressions for table in _tables_read(expression)):
        name = _table_name(context, table)
        if name is None or name in reported:
            continue
        reported.add(name)
        dotted = ".".join(name)
        if _owned(context, name):
            if name not in produced:
                context.add(ERROR, "references", file, f"reads {dotted}, which this render does not produce", *_position(table))
        elif context.probe.exists(""):  # without a committed tree there is nothing to look in
            folder = "/".join(name)
            if not context.probe.exists(folder):
                context.add(WARNING, "references", file,
                            f"reads {dotted}, which is not in the sql tree (no {context.shown(folder)}/)", *_position(table))


def _sqlglot_schema(context: Context) -> dict:
    """The render's tables and views as a sqlglot schema: what `*` and columns resolve to."""
    mapping: dict = {}
    for (project, dataset, table), schema in context.schemas.items():
        if table:
            mapping.setdefault(project, {}).setdefault(dataset, {})[table] = {
                str(entry["name"]): _sqlglot_type(entry) for entry in schema.fields
            }
    return mapping


def _sqlglot_type(entry: dict) -> str:
    kind = str(entry.get("type", "")).upper()
    nested = entry.get("fields")
    if kind in ("RECORD", "STRUCT") and isinstance(nested, list) and nested:
        members = ", ".join(f"`{item.get('name')}` {_sqlglot_type(item)}" for item in nested if isinstance(item, dict))
        base = f"STRUCT<{members}>"
    else:
        base = kind if kind in SCALAR_TYPES else "STRING"
    return f"ARRAY<{base}>" if str(entry.get("mode", "")).upper() == "REPEATED" else base


def _qualify(context: Context, file: RenderedFile, query: exp.Query, mapping: dict) -> exp.Query | None:
    try:
        # Unknown columns must stay in the tree (not raise): _check_columns_read reports them all.
        return qualify(query.copy(), schema=mapping, dialect=DIALECT, validate_qualify_columns=False,
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
    return context.schemas.get(name) if name else None


# -- 5. views -------------------------------------------------------------------------


def _branches(query: exp.Expression) -> list[exp.Expression]:
    if isinstance(query, exp.SetOperation):
        return _branches(query.left) + _branches(query.right)
    return [query]


def _check_view(context: Context, statement: Statement, qualified: exp.Query) -> None:
    file = statement.file
    create = statement.expressions[0]
    target = _table_name(context, create.this) if isinstance(create.this, exp.Table) else None
    expected_target = (file.project, file.dataset, file.name)
    if target is not None and target != expected_target:
        context.add(ERROR, "views", file, f"creates {'.'.join(target)}, but it is generated as {'.'.join(expected_target)}",
                    *_position(create.this))
    schema = context.schemas.get(expected_target)
    seen_apps: dict[str, exp.Expression] = {}
    reported: set[str] = set()
    for branch in _branches(qualified):
        if not isinstance(branch, exp.Select):
            continue
        application = next((select for select in branch.selects if select.alias_or_name == "application"), None)
        literal = application.this if isinstance(application, exp.Alias) else None
        app_id = literal.this if isinstance(literal, exp.Literal) and literal.is_string else None
        tables = [name for name in (_table_name(context, table) for table in _tables_read(branch)) if name]
        if app_id is None:
            context.add(ERROR, "views", file, "a branch of the view has no \"<app_id>\" AS application column", *_position(branch))
        else:
            seen_apps.setdefault(app_id, branch)
            derived = f"{app_id}{DERIVED_SUFFIX}"
            if tables and not any(dataset == derived for _, dataset, _ in tables):
                context.add(ERROR, "views", file,
                            f"the branch for {app_id} reads {', '.join('.'.join(name) for name in tables)}, not {derived}",
                            *_position(application))
        upstream = [context.schemas[name] for name in tables if name in context.schemas]
        if len(tables) != 1 or len(upstream) != 1:
            continue  # a join or a table outside the render: the columns are not a union of one table
        expected = ["application"] + upstream[0].names
        produced = branch.named_selects
        if not any(_is_star(select) for select in branch.selects) and produced != expected:
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


def _routine_calls(expression: exp.Expression) -> Iterator[tuple[str, str, exp.Expression]]:
    """``mozfun.<dataset>.<routine>(...)`` calls: (dataset, routine, the call)."""
    for call in expression.find_all(exp.Anonymous):
        parent = call.parent
        if isinstance(parent, exp.Dot) and parent.expression is call:
            prefix = [node.name for node in _dotted(parent.this)]
            if len(prefix) == 2 and prefix[0].lower() == "mozfun":
                yield prefix[1], call.name, parent
        else:
            parts = call.name.split(".")
            if len(parts) == 3 and parts[0].lower() == "mozfun":
                yield parts[1], parts[2], call


def _dotted(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.Dot):
        return _dotted(node.this) + _dotted(node.expression)
    if isinstance(node, exp.Column):
        return [part for part in node.parts]
    return [node]


def _check_routines(context: Context) -> None:
    """One finding per missing routine, at its first call, counting the files calling it."""
    if not context.probe.exists(""):
        return  # no committed tree (a first `generate`): nothing to look in
    calls: dict[tuple[str, str], list[tuple[RenderedFile, exp.Expression]]] = {}
    for statement in context.statements.values():
        seen: set[tuple[str, str]] = set()
        for expression in statement.expressions:
            for dataset, routine, call in _routine_calls(expression):
                if (dataset, routine) not in seen:
                    seen.add((dataset, routine))
                    calls.setdefault((dataset, routine), []).append((statement.file, call))
    has_mozfun = context.probe.exists("mozfun")
    for (dataset, routine), sites in calls.items():
        folder = f"mozfun/{dataset}/{routine}"
        if has_mozfun and any(context.probe.exists(f"{folder}/{name}") for name in ROUTINE_FILES):
            continue
        file, call = sites[0]
        also = f" (called in {len(sites)} files)" if len(sites) > 1 else ""
        if has_mozfun:
            context.add(ERROR, "routines", file,
                        f"calls mozfun.{dataset}.{routine}, which is not in the sql tree: "
                        f"no {context.shown(folder)}/udf.sql or stored_procedure.sql{also}", *_position(call))
        else:
            context.add(WARNING, "routines", file,
                        f"calls mozfun.{dataset}.{routine}; the sql tree has no {context.shown('mozfun')}/ folder "
                        f"to check it in{also}", *_position(call))
