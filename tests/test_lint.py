"""The consistency lint: broken template directories each give exactly the expected
findings, the shipped templates give none, and an unchanged render is answered from the
cache without importing sqlglot."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import PROJECT, run
from gecko_trace_check.render import default_templates

APPS = ("firefox_desktop", "org_mozilla_fenix_nightly", "org_mozilla_firefox_beta")
RAW_PING_WARNINGS = {
    ("warning", "references", f"{app}_derived.gecko_trace_spans_v1", f"sql/{PROJECT}/{app}_derived/gecko_trace_spans_v1/query.sql", 9, 5)
    for app in APPS
}
TRACES = f"sql/{PROJECT}/firefox_desktop_derived/gecko_trace_traces_v1/query.sql"
ROUTINE_FINDINGS = {  # the first call of each routine (3 files call each one)
    ("routines", "firefox_desktop_derived.gecko_trace_traces_v1", TRACES, 12, 5),
    ("routines", "firefox_desktop_derived.gecko_trace_traces_v1", TRACES, 49, 3),
}
FINDING_KEYS = ["severity", "rule", "object", "path", "line", "column", "message"]


def lint_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict]]:
    code, out, err = run(capsys, "lint", "--format", "json", *argv)
    assert err == ""
    return code, json.loads(out)["findings"]


def where(findings: list[dict]) -> set[tuple]:
    return {(f["severity"], f["rule"], f["object"], f["path"], f["line"], f["column"]) for f in findings}


def per_app(severity: str, rule: str, table: str, role: str, line: int, column: int) -> set[tuple]:
    return {(severity, rule, f"{app}_derived.{table}", f"sql/{PROJECT}/{app}_derived/{table}/{role}", line, column) for app in APPS}


def broken(tmp_path: Path, mutate: Callable[[Path], None]) -> str:
    """A copy of the shipped templates, changed by ``mutate``."""
    templates = tmp_path / "templates"
    shutil.copytree(default_templates(), templates)
    mutate(templates)
    return str(templates)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def derived(templates: Path, table: str, role: str) -> Path:
    return templates / "derived" / table / role


def add_routines(sql: Path, *routines: str) -> None:
    for routine in routines:
        folder = sql / "mozfun" / "gecko_trace" / routine
        folder.mkdir(parents=True)
        (folder / "udf.sql").write_text("CREATE OR REPLACE FUNCTION gecko_trace.x() AS (1);\n")


def add_raw_pings(sql: Path) -> None:
    for app in APPS:
        (sql / PROJECT / app / "gecko_trace").mkdir(parents=True)


# -- the shipped templates ----------------------------------------------------------------


def test_shipped_templates_lint_clean_without_a_committed_tree(warehouse, capsys):
    """No sql dir (a first `generate`): there is no tree to look routines and pings up in."""
    code, out, err = run(capsys, "lint")
    assert (code, out, err) == (0, "Lint: no findings.\n", "")


def test_shipped_templates_on_a_tree_without_mozfun_or_ping_folders_only_warn(generated, capsys):
    """The documented warnings: the raw ping table of each application, and each routine
    once, because the tree has neither the ping folders nor a mozfun/ folder."""
    code, findings = lint_json(capsys)
    assert code == 0
    assert where(findings) == RAW_PING_WARNINGS | {("warning", *finding) for finding in ROUTINE_FINDINGS}
    routines = sorted(f["message"] for f in findings if f["rule"] == "routines")
    assert routines == [
        "calls mozfun.gecko_trace.build_root_span; the sql tree has no sql/mozfun/ folder to check it in (called in 3 files)",
        "calls mozfun.gecko_trace.calculate_signature; the sql tree has no sql/mozfun/ folder to check it in (called in 3 files)",
    ]
    assert run(capsys, "lint", "--strict")[0] == 1  # --strict makes warnings errors


def test_shipped_templates_on_a_complete_tree_have_no_findings(generated, capsys):
    add_routines(generated.parent, "build_root_span", "calculate_signature")
    add_raw_pings(generated.parent)
    assert lint_json(capsys) == (0, [])
    assert run(capsys, "lint", "--strict") == (0, "Lint: no findings.\n", "")


# -- broken templates: each gives exactly the expected findings -----------------------------


def test_schema_field_removed(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_signatures_v1", "schema.yaml"),
             "  - name: hits\n    type: INT64\n    mode: NULLABLE\n"
             "    description: The number of the day's traces with this signature.\n", "")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    view_schema = f"sql/{PROJECT}/gecko_trace_aggregates/signatures/schema.yaml"
    assert where(findings) == per_app("error", "query-schema", "gecko_trace_signatures_v1", "query.sql", 7, 3) | {
        ("error", "views", "gecko_trace_aggregates.signatures", view_schema, 18, 5)
    }
    messages = {f["message"] for f in findings}
    assert messages == {
        "column hits is in query.sql but not in schema.yaml",
        "schema.yaml is not application followed by the fields of gecko_trace_signatures_v1: not in the tables: hits",
    }


def test_column_added_to_a_query_only(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_signatures_v1", "query.sql"),
             "COUNT(*) AS hits", "COUNT(*) AS hits,\n  MAX(duration_nano) AS max_duration_nano")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == per_app("error", "query-schema", "gecko_trace_signatures_v1", "query.sql", 8, 3)
    assert {f["message"] for f in findings} == {"column max_duration_nano is in query.sql but not in schema.yaml"}


def test_field_in_schema_only_and_reordered_columns(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        query = derived(templates, "gecko_trace_signatures_v1", "query.sql")
        edit(query, "  AVG(duration_nano) AS average_duration_nano,\n  COUNT(*) AS hits",
             "  COUNT(*) AS hits,\n  AVG(duration_nano) AS average_duration_nano")
        edit(derived(templates, "gecko_trace_traces_v1", "query.sql"), "  span_count,\n", "")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == (
        per_app("error", "query-schema", "gecko_trace_signatures_v1", "query.sql", 6, 3)
        | per_app("error", "query-schema", "gecko_trace_traces_v1", "schema.yaml", 26, 5)
    )
    assert {f["message"] for f in findings} == {
        "columns are not in schema.yaml's order: hits comes where schema.yaml has average_duration_nano "
        "(schema.yaml order: submission_date, signature, average_duration_nano, hits)",
        "field span_count is in schema.yaml but query.sql does not produce it",
    }


def test_partition_field_renamed(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_spans_v1", "metadata.yaml"), "field: submission_date", "field: submission_day")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == per_app("error", "metadata-schema", "gecko_trace_spans_v1", "metadata.yaml", 23, 12)
    assert {f["message"] for f in findings} == {"partition field submission_day is not a field of schema.yaml"}


def test_partition_field_of_the_wrong_type_and_too_many_clustering_fields(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        metadata = derived(templates, "gecko_trace_spans_v1", "metadata.yaml")
        edit(metadata, "field: submission_date", "field: trace_id")
        edit(metadata, "      - name\n", "      - name\n      - span_id\n      - document_id\n      - parent_span_id\n")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == (
        per_app("error", "metadata-schema", "gecko_trace_spans_v1", "metadata.yaml", 23, 12)
        | per_app("error", "metadata-schema", "gecko_trace_spans_v1", "metadata.yaml", 27, 7)
    )
    assert {f["message"] for f in findings} == {
        "partition field trace_id is STRING: BigQuery partitions by a DATE, TIMESTAMP or DATETIME column",
        "5 clustering fields: BigQuery allows at most 4",
    }


def test_clustering_field_missing_from_the_schema(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_traces_v1", "metadata.yaml"), "      - trace_id\n", "      - trace_id\n      - span_id\n")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == per_app("error", "metadata-schema", "gecko_trace_traces_v1", "metadata.yaml", 29, 9)
    assert {f["message"] for f in findings} == {"clustering field span_id is not a field of schema.yaml"}


def test_table_removed_that_a_view_still_reads(warehouse, tmp_path, capsys):
    code, findings = lint_json(capsys, "--templates", broken(tmp_path, lambda t: shutil.rmtree(t / "derived" / "gecko_trace_signatures_v1")))
    assert code == 1
    view = f"sql/{PROJECT}/gecko_trace_aggregates/signatures/view.sql"
    assert where(findings) == {("error", "references", "gecko_trace_aggregates.signatures", view, line, 3) for line in (8, 14, 20)}
    assert {f["message"] for f in findings} == {
        f"reads {PROJECT}.{app}_derived.gecko_trace_signatures_v1, which this render does not produce" for app in APPS
    }


def test_column_read_from_an_upstream_table_that_does_not_produce_it(warehouse, tmp_path, capsys):
    """The bug of the first public version: traces read submission_timestamp from a spans
    table that never wrote it."""

    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_spans_v1", "query.sql"), "  pings.submission_timestamp,\n", "")
        edit(derived(templates, "gecko_trace_spans_v1", "schema.yaml"),
             "  - name: submission_timestamp\n    type: TIMESTAMP\n    mode: NULLABLE\n"
             "    description: When the ping carrying the span was received by the pipeline.\n", "")
        edit(templates / "aggregates" / "spans" / "schema.yaml",
             "  - name: submission_timestamp\n    type: TIMESTAMP\n    mode: NULLABLE\n"
             "    description: When the ping carrying the span was received by the pipeline.\n", "")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == per_app("error", "references", "gecko_trace_traces_v1", "query.sql", 7, 9)
    assert {f["message"] for f in findings} == {
        f"reads column submission_timestamp from {PROJECT}.{app}_derived.gecko_trace_spans_v1, whose schema.yaml has no such field"
        for app in APPS
    }


def test_qualified_column_read_from_an_upstream_table(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        query = derived(templates, "gecko_trace_signatures_v1", "query.sql")
        edit(query, "AVG(duration_nano)", "AVG(t.duration_ms)")
        edit(query, "gecko_trace_traces_v1`", "gecko_trace_traces_v1` AS t")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == per_app("error", "references", "gecko_trace_signatures_v1", "query.sql", 6, 7)


def test_sql_syntax_error_names_file_line_and_column(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_signatures_v1", "query.sql"), "AVG(duration_nano) AS", "AVG(duration_nano AS")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == per_app("error", "valid-sql", "gecko_trace_signatures_v1", "query.sql", 6, 21)
    assert {f["message"] for f in findings} == {"not valid BigQuery SQL: Expecting ) (at 'AS')"}
    code, out, _ = run(capsys, "lint", "--templates", str(tmp_path / "templates"))
    shown = f"sql/{PROJECT}/firefox_desktop_derived/gecko_trace_signatures_v1/query.sql:6:21"
    assert f"error   {shown}: not valid BigQuery SQL: Expecting ) (at 'AS') [valid-sql]" in out.splitlines()
    assert out.endswith("Lint: 3 errors, 0 warnings.\n")


def test_unterminated_string_is_a_finding_not_a_crash(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_signatures_v1", "query.sql"), "AND signature IS NOT NULL", "AND signature = 'x")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    assert where(findings) == per_app("error", "valid-sql", "gecko_trace_signatures_v1", "query.sql", 12, 19)
    assert {f["message"] for f in findings} == {"not valid BigQuery SQL: Missing ' (never closed)"}


def test_view_missing_an_application(warehouse, tmp_path, capsys):
    def mutate(templates: Path) -> None:
        edit(templates / "aggregates" / "spans" / "view.sql", "union_all(target_project, applications,", "union_all(target_project, applications[1:],")

    code, findings = lint_json(capsys, "--templates", broken(tmp_path, mutate))
    assert code == 1
    view = f"sql/{PROJECT}/gecko_trace_aggregates/spans/view.sql"
    assert where(findings) == {("error", "views", "gecko_trace_aggregates.spans", view, None, None)}
    assert findings[0]["message"] == "application firefox_desktop is configured but not in the view"


def test_missing_routine_is_an_error_when_the_tree_has_mozfun(generated, capsys):
    add_routines(generated.parent, "calculate_signature")
    add_raw_pings(generated.parent)
    code, findings = lint_json(capsys)
    assert code == 1
    assert where(findings) == {("error", "routines", "firefox_desktop_derived.gecko_trace_traces_v1", TRACES, 12, 5)}
    assert findings[0]["message"] == (
        "calls mozfun.gecko_trace.build_root_span, which is not in the sql tree: "
        "no sql/mozfun/gecko_trace/build_root_span/udf.sql or stored_procedure.sql (called in 3 files)"
    )


def test_missing_routine_is_a_warning_without_mozfun(generated, capsys):
    add_raw_pings(generated.parent)
    code, findings = lint_json(capsys)
    assert code == 0
    assert where(findings) == {("warning", *finding) for finding in ROUTINE_FINDINGS}


def test_stored_procedure_counts_as_the_routine(generated, capsys):
    add_routines(generated.parent, "calculate_signature")
    add_raw_pings(generated.parent)
    folder = generated.parent / "mozfun" / "gecko_trace" / "build_root_span"
    folder.mkdir(parents=True)
    (folder / "stored_procedure.sql").write_text("CREATE PROCEDURE x() BEGIN END;\n")
    assert lint_json(capsys) == (0, [])


# -- many applications ------------------------------------------------------------------------


def test_many_applications_each_get_the_findings_they_get_three_at_a_time(warehouse, tmp_path, capsys):
    """The derived files of applications that differ only in the id are linted once and the
    findings copied: each application must still get its own names, its own columns (ids
    of other lengths before the finding on the same line), its own facts (raw ping folders
    for some applications only) and its routine calls. Ids that are SQL words, or part of
    one (`mozfun`), are linted on their own."""

    def mutate(templates: Path) -> None:
        edit(derived(templates, "gecko_trace_signatures_v1", "query.sql"), "COUNT(*) AS hits",
             "COUNT(*) AS hits, '{{ app_id }}' AS tag, no_such_column")

    templates = broken(tmp_path, mutate)
    apps = [*APPS, "select", "date", "moz", *(f"app_{'x' * (index % 7)}{index}" for index in range(37))]
    for app in apps[::3]:
        (warehouse / "sql" / PROJECT / app / "gecko_trace").mkdir(parents=True)
    routines: list[dict] = []  # one finding per routine, counting the files calling it

    def findings_by_app(*chosen: str) -> dict[str, list[dict]]:
        code, findings = lint_json(capsys, "--templates", templates, *(arg for app in chosen for arg in ("--app", app)))
        assert code == 1
        routines[:] = [f for f in findings if f["rule"] == "routines"]
        by_app = {app: [f for f in findings if f["object"].startswith(f"{app}_derived.") and f not in routines] for app in chosen}
        assert sum(map(len, by_app.values())) + len(routines) == len(findings)  # the views have none
        return by_app

    many = findings_by_app(*apps)
    assert [(f["object"], f["message"].endswith(f"(called in {len(apps)} files)")) for f in routines] == [
        ("firefox_desktop_derived.gecko_trace_traces_v1", True)] * 2
    for start in range(0, len(apps), 3):
        few = findings_by_app(*apps[start:start + 3])
        assert {app: many[app] for app in few} == few
    # What was compared: 3 errors each, no_such_column where '<app_id>' AS tag puts it ...
    signatures = "gecko_trace_signatures_v1/query.sql"
    for app in ("app_xx2", "app_xxxxxx6", "select"):
        after = len("  COUNT(*) AS hits, ''") + len(app) + len(" AS tag, ") + 1
        assert {(f["rule"], f["line"], f["column"]) for f in many[app] if f["path"].endswith(signatures)} == {
            ("query-schema", 7, 21), ("query-schema", 7, after), ("references", 7, after)}
    # ... and the raw ping warning where there is no folder.
    assert {f["message"] for f in many["moz"] if f["rule"] == "references"} == {
        f"reads column no_such_column from {PROJECT}.moz_derived.gecko_trace_traces_v1, whose schema.yaml has no such field",
        f"reads {PROJECT}.moz.gecko_trace, which is not in the sql tree (no sql/{PROJECT}/moz/gecko_trace/)",
    }
    warned = {app for app in apps if any(f["severity"] == "warning" for f in many[app])}
    assert warned == set(apps) - set(apps[::3])


# -- findings in the check, and generate --lint -------------------------------------------------


def test_check_json_has_findings_as_a_separate_list(generated, capsys):
    code, out, _ = run(capsys, "--format", "json")
    document = json.loads(out)
    assert code == 0  # warnings only
    assert len(document["findings"]) == 5
    assert all(list(finding) == FINDING_KEYS for finding in document["findings"])
    assert all(set(entry) == {"path", "status", "object", "object_type", "role", "changes"} for entry in document["files"])
    assert document["summary"]["in_sync"] == 37


def test_check_text_reports_findings_after_the_drift(generated, capsys):
    (generated / "firefox_desktop_derived" / "gecko_trace_spans_v1" / "schema.yaml").unlink()
    code, out, _ = run(capsys)
    assert code == 1
    lines = out.splitlines()
    drift = lines.index("+ table firefox_desktop_derived.gecko_trace_spans_v1   missing: schema.yaml")
    warning = next(i for i, line in enumerate(lines) if line.startswith("warning sql/"))
    assert drift < warning
    assert (
        f"warning sql/{PROJECT}/firefox_desktop_derived/gecko_trace_spans_v1/query.sql:9:5: reads "
        f"{PROJECT}.firefox_desktop.gecko_trace, which is not in the sql tree "
        f"(no sql/{PROJECT}/firefox_desktop/gecko_trace/) [references]"
    ) in lines
    assert lines[-1] == "Lint: 0 errors, 5 warnings."


def test_check_fails_on_lint_errors_of_an_in_sync_tree_and_no_lint_skips(warehouse, tmp_path, capsys):
    templates = broken(tmp_path, lambda t: edit(derived(t, "gecko_trace_spans_v1", "metadata.yaml"), "field: submission_date", "field: submission_day"))
    assert main_quiet(capsys, "generate", "--templates", templates) == 0
    code, out, _ = run(capsys, "--templates", templates, "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert set(document["summary"].values()) == {0, 37} and document["summary"]["in_sync"] == 37
    assert {(f["severity"], f["rule"]) for f in document["findings"]} == {("error", "metadata-schema"), ("warning", "references"), ("warning", "routines")}
    code, out, _ = run(capsys, "--templates", templates, "--format", "json", "--no-lint")
    assert (code, json.loads(out)["findings"]) == (0, [])


def test_strict_check_fails_on_warnings(generated, capsys):
    assert run(capsys)[0] == 0
    assert run(capsys, "--strict")[0] == 1


def main_quiet(capsys: pytest.CaptureFixture[str], *argv: str) -> int:
    return run(capsys, *argv)[0]


def test_generate_lint_writes_nothing_on_errors(warehouse, tmp_path, capsys):
    templates = broken(tmp_path, lambda t: edit(derived(t, "gecko_trace_traces_v1", "metadata.yaml"), "      - trace_id\n", "      - trace_id\n      - span_id\n"))
    code, out, err = run(capsys, "generate", "--lint", "--templates", templates)
    assert code == 1
    assert not (warehouse / "sql").exists()
    assert "clustering field span_id is not a field of schema.yaml [metadata-schema]" in out
    assert "nothing written" in err
    # Without --lint, the same templates are written as they are.
    assert run(capsys, "generate", "--templates", templates)[0] == 0
    assert (warehouse / "sql" / PROJECT).is_dir()


def test_generate_lint_writes_clean_templates(warehouse, capsys):
    code, out, _ = run(capsys, "generate", "--lint")
    assert code == 0
    assert out == f"Wrote 37 files for 3 applications to sql/{PROJECT}\n"


# -- the cache --------------------------------------------------------------------------------


def test_cache_hit_does_not_import_sqlglot(generated, _lint_cache):
    probe = (
        "import sys\n"
        "from gecko_trace_check.cli import main\n"
        "code = main([])\n"
        "print('sqlglot-imported' if 'sqlglot' in sys.modules else 'sqlglot-not-imported', code)\n"
    )
    env = {**os.environ, "GECKO_TRACE_CHECK_CACHE": str(_lint_cache)}

    def check() -> str:
        done = subprocess.run([sys.executable, "-c", probe], cwd=generated.parent.parent, env=env, capture_output=True, text=True, check=True)
        return done.stdout.splitlines()[-1]

    assert check() == "sqlglot-imported 0"  # the first check lints and fills the cache
    assert list(_lint_cache.glob("lint-*.json"))
    assert check() == "sqlglot-not-imported 0"


def test_cache_answers_again_only_while_consulted_paths_are_unchanged(generated, capsys):
    first = lint_json(capsys)
    assert lint_json(capsys) == first
    (generated.parent / "mozfun").mkdir()  # now the routines are errors, not warnings
    code, findings = lint_json(capsys)
    assert code == 1
    assert {(f["severity"], f["rule"]) for f in findings if f["rule"] == "routines"} == {("error", "routines")}


def test_corrupt_cache_entries_are_misses(generated, capsys, _lint_cache):
    first = lint_json(capsys)
    entries = list(_lint_cache.glob("lint-*.json"))
    assert entries
    for garbage in (b"{not json", b'{"format": 1, "consulted": [], "findings": [{"rule": 1}]}', b"[]"):
        for entry in entries:
            entry.write_bytes(garbage)
        assert lint_json(capsys) == first


def test_an_unwritable_cache_never_fails_the_check(generated, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GECKO_TRACE_CHECK_CACHE", str(blocker / "cache"))
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "Lint: 0 errors, 5 warnings."


def test_cache_location(monkeypatch, tmp_path):
    from gecko_trace_check.lint.cache import cache_dir

    monkeypatch.delenv("GECKO_TRACE_CHECK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "gecko-trace-check"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "gecko-trace-check"
