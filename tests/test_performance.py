"""The performance budget, asserted by what a run does, not by how long it takes.

A clean check imports no SQL or YAML diff engine (the real CLI in a subprocess, read
from ``-X importtime``), a stale file does, and a warehouse tree of 10,000 unrelated
files is never walked: only the owned objects are listed or opened. Timings are for
``bench/run.py``, run by hand.
"""

from __future__ import annotations

import builtins
import io
import os
import pathlib
import subprocess
import sys
from pathlib import Path

import pytest

from gecko_trace_check.cli import main

PROJECT = "moz-fx-data-shared-prod"
HEAVY = ("sqlglot", "deepdiff", "duckdb", "difflib")
SPANS = f"sql/{PROJECT}/firefox_desktop_derived/gecko_trace_spans_v1"


def imported_modules(warehouse: Path, cache: Path, *argv: str) -> tuple[int, str, set[str]]:
    """Run ``python -X importtime -m gecko_trace_check argv`` in ``warehouse``.

    Returns the exit code, stdout and the top-level names of every module imported.
    """
    env = {**os.environ, "GECKO_TRACE_CHECK_CACHE": str(cache), "NO_COLOR": "1"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gecko_trace_check", *argv],
        cwd=warehouse,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                modules.add(name.split(".")[0])
    assert modules, f"no -X importtime output; stderr was: {done.stderr[-2000:]}"
    return done.returncode, done.stdout, modules


def test_clean_check_imports_no_diff_engine(generated: Path, tmp_path: Path) -> None:
    warehouse = generated.parent.parent
    cache = tmp_path / "cache"
    # The first run may fill the lint cache (and import sqlglot to do it); the second
    # is the hook on an unchanged pipeline, the one that must stay cheap.
    first_code, first_out, _ = imported_modules(warehouse, cache)
    assert first_code == 0, first_out
    code, out, modules = imported_modules(warehouse, cache)
    assert code == 0, out
    assert "In sync:" in out, out
    assert "jinja2" in modules and "gecko_trace_check" in modules  # the parse saw the run
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_stale_sql_imports_sqlglot_and_a_stale_schema_deepdiff(generated: Path, tmp_path: Path) -> None:
    warehouse = generated.parent.parent
    cache = tmp_path / "cache"
    assert imported_modules(warehouse, cache)[0] == 0  # a warm lint cache: what follows is the diff engine's

    query = warehouse / SPANS / "query.sql"
    text = query.read_text()
    assert "AS trace_id" in text
    query.write_text(text.replace("AS trace_id", "AS trace_key", 1))
    code, out, modules = imported_modules(warehouse, cache)
    assert code == 1, out
    assert "query.sql: query changed" in out
    assert "sqlglot" in modules and "difflib" in modules
    assert "deepdiff" not in modules  # no YAML differs

    schema = warehouse / SPANS / "schema.yaml"
    schema.write_text(schema.read_text().replace("type: STRING", "type: BYTES", 1))
    code, out, modules = imported_modules(warehouse, cache)
    assert code == 1, out
    assert "schema.yaml: field" in out
    assert {"sqlglot", "deepdiff"} <= modules


class FileAccess:
    """Every folder listed and every file opened below ``root`` during a run."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = os.path.realpath(root)
        self.listed: set[str] = set()
        self.opened: set[str] = set()
        real_scandir, real_listdir, real_open = os.scandir, os.listdir, io.open

        def below(path: object) -> str | None:
            if isinstance(path, int):  # a file descriptor: nothing to name
                return None
            full = os.path.realpath(os.fspath(path) if path != "" else ".")
            return os.path.relpath(full, self.root) if full == self.root or full.startswith(self.root + os.sep) else None

        def scandir(path: object = ".") -> object:
            if (relpath := below(path)) is not None:
                self.listed.add(relpath)
            return real_scandir(path)

        def listdir(path: object = ".") -> list[str]:
            if (relpath := below(path)) is not None:
                self.listed.add(relpath)
            return real_listdir(path)

        def open_(file: object, *args: object, **kwargs: object) -> object:
            if (relpath := below(file)) is not None:
                self.opened.add(relpath)
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(os, "scandir", scandir)
        monkeypatch.setattr(os, "listdir", listdir)
        monkeypatch.setattr(io, "open", open_)
        monkeypatch.setattr(builtins, "open", open_)
        if hasattr(pathlib, "_NormalAccessor"):  # Python 3.10: pathlib kept its own io.open
            monkeypatch.setattr(pathlib._NormalAccessor, "open", staticmethod(open_))


def add_unrelated_warehouse(sql: Path, datasets: int = 100, tables: int = 100) -> int:
    """``datasets`` x ``tables`` hand-written queries, half of them in ``*_derived`` datasets."""
    count = 0
    for d in range(datasets):
        dataset = f"team_{d:03d}_derived" if d % 2 else f"team_{d:03d}"
        for t in range(tables):
            table = sql / PROJECT / dataset / f"report_{t:03d}_v1"
            table.mkdir(parents=True)
            (table / "query.sql").write_text("SELECT 1\n")
            count += 1
    return count


def test_a_large_warehouse_is_never_walked(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    sql = generated.parent
    rendered = sorted(os.path.relpath(file, sql) for file in generated.rglob("*") if file.is_file())
    assert add_unrelated_warehouse(sql) == 10_000
    # Neighbours inside the generator's own datasets: a hand-written table next to ours,
    # and a hand-written file inside one of our tables.
    (generated / "firefox_desktop_derived" / "crash_reports_v1").mkdir()
    (generated / "firefox_desktop_derived" / "crash_reports_v1" / "query.sql").write_text("SELECT 2\n")
    (generated / "firefox_desktop_derived" / "gecko_trace_spans_v1" / "checks.sql").write_text("SELECT 3\n")
    monkeypatch.setenv("GECKO_TRACE_CHECK_CACHE", str(tmp_path / "cache"))

    access = FileAccess(sql, monkeypatch)
    assert main([]) == 0
    out = capsys.readouterr().out
    monkeypatch.undo()
    assert "In sync:" in out, out

    owned_objects = {
        os.path.dirname(path)
        for path in (os.path.relpath(file, sql) for file in sql.rglob("*") if file.is_file())
        if "/gecko_trace_" in f"/{path}"
    }
    derived_datasets = {f"{PROJECT}/{entry.name}" for entry in (sql / PROJECT).iterdir() if entry.name.endswith("_derived")}
    aggregates = f"{PROJECT}/gecko_trace_aggregates"
    # Listed: the project (to find the datasets), each *_derived dataset (to find our tables
    # there, orphans of a removed application included), and our own objects. Nothing deeper.
    allowed = {PROJECT, aggregates} | derived_datasets | owned_objects
    assert access.listed, "the run listed nothing: the spy is not attached"
    assert access.listed <= allowed, sorted(access.listed - allowed)[:10]
    assert not any("/report_" in path or path.endswith("crash_reports_v1") for path in access.listed)
    # Opened: only files the generator writes, inside our objects (never checks.sql).
    assert sorted(access.opened) == rendered
    assert all(os.path.dirname(path) in owned_objects and "/gecko_trace_" in f"/{path}" for path in access.opened)
    assert not any(path.endswith("checks.sql") for path in access.opened)
