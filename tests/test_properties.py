"""Properties over trees rendered from the shipped templates (hypothesis).

- any semantic mutation of one rendered file is reported as ``stale`` on exactly that file;
- any formatting-only mutation is ``format_only`` and exits 0;
- ``--fix`` then ``--fix`` changes nothing, and after ``--fix`` the check exits 0;
- files the tool does not own are byte-identical after ``--fix``.

CI runs the seeded ``ci`` profile (few examples, deterministic); run
``HYPOTHESIS_PROFILE=dev python -m pytest tests/test_properties.py`` for a deeper search.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.tokens import TokenType

from gecko_trace_check.cli import main
from gecko_trace_check.config import DEFAULT_APPLICATIONS
from gecko_trace_check.render import default_templates, render
from tests.conftest import PROJECT

settings.register_profile(
    "ci", max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

RENDERED = render(default_templates(), PROJECT, DEFAULT_APPLICATIONS)
SQL_FILES = [f for f in RENDERED if f.role.endswith(".sql")]
YAML_FILES = [f for f in RENDERED if f.role.endswith(".yaml")]
LITERAL_TYPES = {TokenType.VAR, TokenType.IDENTIFIER, TokenType.NUMBER} | {t for t in TokenType if t.name.endswith("STRING")}


@contextmanager
def tree(changes: dict[str, bytes] | None = None) -> Iterator[Path]:
    """A fresh sql tree holding the render, with ``changes`` (path -> bytes) applied."""
    with tempfile.TemporaryDirectory() as folder:
        sql = Path(folder) / "sql"
        for rendered in RENDERED:
            path = sql / rendered.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(rendered.content)
        for relpath, content in (changes or {}).items():
            (sql / relpath).parent.mkdir(parents=True, exist_ok=True)
            (sql / relpath).write_bytes(content)
        yield sql


def check(sql: Path, *argv: str) -> tuple[int, dict[str, str]]:
    """Exit code and status per path (below the sql dir) of ``--format json``."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--sql-dir", str(sql), "--no-lint", "--format", "json", *argv])
    files = json.loads(out.getvalue())["files"]  # --fix reports its changes on stderr
    return code, {entry["path"][len(str(sql)) + 1 :]: entry["status"] for entry in files}


@pytest.fixture(autouse=True)
def _empty_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a repository without a pyproject.toml: the defaults apply."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)


# --- SQL ------------------------------------------------------------------------------------


def spans(text: str) -> list[tuple[Any, int, int]]:
    """(token type, start, end exclusive) of each BigQuery token of ``text``."""
    return [(token.token_type, token.start, token.end + 1) for token in BigQuery().tokenize(text)]


@st.composite
def sql_semantic_mutation(draw: st.DrawFn) -> tuple[str, bytes]:
    rendered = draw(st.sampled_from(SQL_FILES))
    text = rendered.content.decode()
    # AS is optional in BigQuery aliases (`x AS y` = `x y`): adding or dropping it is formatting.
    tokens = [token for token in spans(text) if token[0] != TokenType.ALIAS]
    kind, start, end = tokens[draw(st.integers(0, len(tokens) - 1))]
    word = text[start:end]
    how = draw(st.sampled_from(["change", "delete", "duplicate"]))
    if how == "delete":
        new = ""
    elif how == "duplicate":
        new = f"{word} {word}"
    elif kind == TokenType.NUMBER:
        new = str(int(float(word)) + draw(st.integers(1, 99)))
    elif kind == TokenType.IDENTIFIER:
        new = word[:-1] + draw(st.sampled_from(["_x", "2", "_v9"])) + word[-1]
    elif kind in LITERAL_TYPES - {TokenType.VAR}:  # a string literal: change inside the quotes
        new = word[:1] + draw(st.sampled_from(["x", "Z", "$.y"])) + word[1:]
    elif kind == TokenType.VAR:
        new = word + draw(st.sampled_from(["_x", "2", "_v9"]))
    else:  # a keyword or an operator: swap for another one
        new = draw(st.sampled_from(["AND", "OR", "NOT", "<>", "+", "DESC", "LEFT JOIN"]).filter(lambda w: w.upper() != word.upper()))
    return rendered.path, (text[:start] + new + text[end:]).encode()


@given(sql_semantic_mutation())
def test_any_sql_semantic_change_is_stale_on_exactly_that_file(mutation: tuple[str, bytes]) -> None:
    path, content = mutation
    with tree({path: content}) as sql:
        code, statuses = check(sql)
    assert code == 1
    assert {p: s for p, s in statuses.items() if s != "in_sync"} == {path: "stale"}


SEPARATORS = [" ", "  ", "\n", "\n    ", "\t", "\r\n  ", " /* reformatted */ ", " -- reformatted\n", "\n\n"]


@st.composite
def sql_reformat(draw: st.DrawFn) -> tuple[str, bytes]:
    """Whitespace, line breaks, comments, keyword case, CRLF: nothing that changes a token."""
    rendered = draw(st.sampled_from(SQL_FILES))
    text = rendered.content.decode()
    parts, previous_end = [draw(st.sampled_from(["", "-- header\n", "/* a\n block */\n"]))], None
    for kind, start, end in spans(text):
        if previous_end is not None:
            gap = text[previous_end:start]
            parts.append(draw(st.sampled_from(SEPARATORS)) if gap else "")
        word = text[start:end]
        if kind not in LITERAL_TYPES and word.isalpha() and draw(st.booleans()):
            word = draw(st.sampled_from([word.upper(), word.lower(), word.capitalize()]))
        parts.append(word)
        previous_end = end
    parts.append(draw(st.sampled_from(["", "\n", "\n\n", " -- end"])))
    reformatted = "".join(parts)
    if draw(st.booleans()):
        reformatted = reformatted.replace("\r\n", "\n").replace("\n", "\r\n")
    return rendered.path, reformatted.encode()


# --- YAML -----------------------------------------------------------------------------------


def yaml_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node of a YAML document (dict keys and list indexes)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += yaml_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += yaml_paths(value, (*prefix, index))
    return found


def other_value(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_changed"
    if value is None:
        return "now set"
    return None


@st.composite
def yaml_semantic_mutation(draw: st.DrawFn) -> tuple[str, bytes]:
    rendered = draw(st.sampled_from(YAML_FILES))
    document = yaml.safe_load(rendered.content)
    path = draw(st.sampled_from(yaml_paths(document)[1:]))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    how = draw(st.sampled_from(["change", "remove", "add"]))
    if how == "change":
        parent[path[-1]] = other_value(parent[path[-1]])
    elif how == "remove":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[f"added_{len(parent)}"] = draw(st.sampled_from(["x", 1, True, None, ["a"]]))
    else:
        parent.insert(draw(st.integers(0, len(parent))), draw(st.sampled_from(["x", 1, {"name": "added"}])))
    return rendered.path, yaml.safe_dump(document, sort_keys=False).encode()


@given(yaml_semantic_mutation())
def test_any_yaml_semantic_change_is_stale_on_exactly_that_file(mutation: tuple[str, bytes]) -> None:
    path, content = mutation
    with tree({path: content}) as sql:
        code, statuses = check(sql)
    assert code == 1
    assert {p: s for p, s in statuses.items() if s != "in_sync"} == {path: "stale"}


@st.composite
def yaml_reformat(draw: st.DrawFn) -> tuple[str, bytes]:
    """Key order, quoting, indentation, flow style, comments: the same parsed values."""
    rendered = draw(st.sampled_from(YAML_FILES))
    document = yaml.safe_load(rendered.content)
    text = yaml.safe_dump(
        document,
        sort_keys=draw(st.booleans()),
        indent=draw(st.sampled_from([2, 4, 6])),
        default_flow_style=draw(st.sampled_from([False, None, True])),
        default_style=draw(st.sampled_from([None, '"', "'"])),
        width=draw(st.sampled_from([20, 80, 1000])),
        explicit_start=draw(st.booleans()),
    )
    return rendered.path, (draw(st.sampled_from(["", "# reformatted\n"])) + text).encode()


@given(st.lists(st.one_of(sql_reformat(), yaml_reformat()), min_size=1, max_size=6, unique_by=lambda m: m[0]))
def test_formatting_only_changes_are_format_only_and_exit_0(mutations: list[tuple[str, bytes]]) -> None:
    changes = dict(mutations)
    with tree(changes) as sql:
        code, statuses = check(sql)
    assert code == 0
    for path, status in statuses.items():
        if path in changes and changes[path] != next(f.content for f in RENDERED if f.path == path):
            assert status == "format_only", path
        else:
            assert status == "in_sync", path


# --- --fix ----------------------------------------------------------------------------------

UNOWNED_NAMES = st.sampled_from(["checks.sql", "bigconfig.yml", "README.md", "query.sql.bak", "notes.txt", "init.sql"])
OWNED_FOLDERS = sorted({f.path.rsplit("/", 1)[0] for f in RENDERED})
ELSEWHERE = ["other-project/gecko_trace_aggregates/spans", f"{PROJECT}/telemetry_derived/clients_v1", f"{PROJECT}/firefox_desktop/gecko_trace", "mozfun/gecko_trace/calculate_signature"]


@st.composite
def messy_tree(draw: st.DrawFn) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(changes to owned files, unowned files): drift of every kind next to files we don't own."""
    changes: dict[str, bytes] = {}
    for path, content in draw(st.lists(st.one_of(sql_semantic_mutation(), yaml_semantic_mutation(), sql_reformat(), yaml_reformat()), max_size=5)):
        changes[path] = content
    orphan_app = draw(st.sampled_from(["", "org_mozilla_fenix", "org_mozilla_klar"]))
    if orphan_app:
        for rendered in RENDERED:
            if rendered.dataset == "firefox_desktop_derived":
                changes[rendered.path.replace("firefox_desktop_derived", f"{orphan_app}_derived")] = rendered.content
    unowned: dict[str, bytes] = {}
    for folder in draw(st.lists(st.sampled_from(OWNED_FOLDERS + ELSEWHERE), max_size=6)):
        unowned[f"{folder}/{draw(UNOWNED_NAMES)}"] = draw(st.binary(max_size=64))
    return changes, unowned


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@given(messy_tree(), st.booleans())
def test_fix_is_idempotent_leaves_the_tree_in_sync_and_unowned_files_alone(messy: tuple[dict, dict], strict: bool) -> None:
    changes, unowned = messy
    with tree(changes) as sql:
        for relpath, content in unowned.items():
            path = sql / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        flags = ("--strict",) if strict else ()
        first, _ = check(sql, "--fix", *flags)
        assert first == 0
        after_fix = snapshot(sql)
        assert check(sql, *flags)[0] == 0
        assert check(sql, "--fix", *flags)[0] == 0
        assert snapshot(sql) == after_fix  # the second --fix changed nothing
        for relpath, content in unowned.items():
            assert after_fix[relpath] == content, relpath
        leftovers = [p for p in after_fix if p.endswith(".tmp")]
        assert not leftovers
