"""Applications that share a template: their derived files are linted once.

The derived files of two applications usually differ only in the application id, so
they are analysed once per distinct text with the id replaced by a placeholder, and the
findings are copied to each application (positions moved by the difference in length).
"""

from __future__ import annotations

import functools
import itertools
import re
import types
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.schema import MappingSchema

from gecko_trace_check.lint import Finding
from gecko_trace_check.lint.context import DIALECT, Context, RoutineCall, Schema, TableName, sqlglot_columns, table_name
from gecko_trace_check.lint.metadata import load_schema
from gecko_trace_check.lint.per_file import check
from gecko_trace_check.render import DERIVED_SUFFIX, RenderedFile

# Line breaks other than "\n": with one of them, line numbers could be counted differently.
ODD_BREAKS = (b"\r", b"\x0b", b"\x0c", "\x85".encode(), "\u2028".encode(), "\u2029".encode())


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
            name = table_name(self, table)
            if name is None or len(table.parts) > 3:
                if name is not None or table.name not in ctes:
                    self.shareable = False  # sqlglot would look for it among all the render's tables
                continue
            schema = self.schema(name)
            if schema is not None:
                mapping.setdefault(name[0], {}).setdefault(name[1], {})[name[2]] = sqlglot_columns(schema)
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


def shareable_groups(context: Context) -> list[tuple[str, list[RenderedFile], list[str]]]:
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


def share(context: Context, placeholder: str, files: list[RenderedFile], apps: list[str],
           findings: list[Finding], calls: dict[str, list[RoutineCall]], covered: set[str]) -> None:
    """Lint ``files`` once for all ``apps`` that get the same answers; add what each
    application gets to ``findings`` and ``calls``, and its files to ``covered``."""
    pending = apps
    while pending:
        shared = SharedContext(context.cfg, context.probe, files, yaml_cache=context.yaml_cache,
                               base=context, placeholder=placeholder, app=pending[0])
        for file in files:
            if file.role == "schema.yaml":
                load_schema(shared, file)
        check(shared, files)
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
