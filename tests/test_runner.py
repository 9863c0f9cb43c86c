"""`gecko-trace-check test`: the shipped fixtures pass, and they catch broken templates."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import run

pytest.importorskip("duckdb")

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "sql"
TEMPLATES = REPO / "templates"
PROJECT = "moz-fx-data-shared-prod"


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A copy of the shipped templates to break."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES, copy)
    return copy


@pytest.fixture
def fixtures(tmp_path: Path) -> Path:
    """A copy of the shipped fixtures to break."""
    copy = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_shipped_fixtures_pass(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "test", "--fixtures", str(FIXTURES))
    assert (code, err) == (0, "")
    for name in (
        "firefox_desktop_derived.gecko_trace_spans_v1 test_spans_one_day",
        "firefox_desktop_derived.gecko_trace_traces_v1 test_trace_trees",
        "firefox_desktop_derived.gecko_trace_signatures_v1 test_signature_counts",
        "gecko_trace_aggregates.spans test_all_applications",
        "gecko_trace_aggregates.traces test_all_applications",
        "gecko_trace_aggregates.signatures test_all_applications",
    ):
        assert f"PASS {name}\n" in out
    assert out.endswith("6 tests: 6 passed, 0 failed.\n")


def test_default_fixtures_are_tests_sql_at_the_repo_root(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(FIXTURES, warehouse / "tests" / "sql")
    (warehouse / "sub").mkdir()
    (warehouse / "pyproject.toml").write_text("[project]\nname = 'warehouse'\n")
    code, out, _ = run(capsys, "test")
    assert code == 0 and "6 passed" in out


def test_a_changed_json_path_fails_the_spans_test(warehouse: Path, templates: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(templates / "derived" / "gecko_trace_spans_v1" / "query.sql", "JSON_VALUE(span, '$.name')", "JSON_VALUE(span, '$.title')")
    code, out, _ = run(capsys, "test", "--fixtures", str(FIXTURES), "--templates", str(templates))
    assert code == 1
    assert "FAIL firefox_desktop_derived.gecko_trace_spans_v1 test_spans_one_day\n" in out
    assert '    ~ row {submission_date: "2024-05-01", document_id: "d1", trace_id: "t1", span_id: "s1"}\n' in out
    assert '        name: "PageLoad" -> NULL\n' in out
    assert "PASS firefox_desktop_derived.gecko_trace_traces_v1 test_trace_trees\n" in out  # one query broken, one test fails
    assert out.endswith("6 tests: 5 passed, 1 failed.\n")


def test_min_turned_into_max_fails_the_traces_test(warehouse: Path, templates: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(
        templates / "derived" / "gecko_trace_traces_v1" / "query.sql",
        "MIN(submission_timestamp) AS submission_timestamp",
        "MAX(submission_timestamp) AS submission_timestamp",
    )
    code, out, _ = run(capsys, "test", "--fixtures", str(FIXTURES), "--templates", str(templates))
    assert code == 1
    assert "FAIL firefox_desktop_derived.gecko_trace_traces_v1 test_trace_trees\n" in out
    assert "    changed rows (expected -> actual):\n" in out
    assert '    ~ row {submission_date: "2024-05-01", trace_id: "ta"}\n' in out
    assert '        submission_timestamp: "2024-05-01T10:00:00" -> "2024-05-01T10:00:05"\n' in out


def test_an_application_dropped_from_a_view_fails_the_view_test(warehouse: Path, templates: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(templates / "aggregates" / "spans" / "view.sql", "union_all(target_project, applications,", "union_all(target_project, applications[:-1],")
    code, out, _ = run(capsys, "test", "--fixtures", str(FIXTURES), "--templates", str(templates))
    assert code == 1
    assert "FAIL gecko_trace_aggregates.spans test_all_applications\n" in out
    missing = [line for line in out.splitlines() if line.startswith("    - missing row ")]
    assert len(missing) == 2
    assert all('{application: "org_mozilla_firefox_beta", submission_date: "2024-05-01"' in line for line in missing)
    assert "+ unexpected row" not in out


def test_a_changed_signature_shows_the_tree_path_that_differs(warehouse: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = fixtures / PROJECT / "firefox_desktop_derived" / "gecko_trace_traces_v1" / "test_trace_trees"
    _edit(folder / "expect.yaml", "name: Composite", "name: Compose")
    code, out, _ = run(capsys, "test", "--fixtures", str(fixtures))
    assert code == 1
    assert '        root_span: childSpans[0].name: "Compose" -> "Composite"\n' in out
    assert '        signature: "015ez9c0q89eb5" -> "015ez9c0q89eb5"' not in out  # the tree changed, not the signature


def test_missing_duckdb_is_one_line(warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # makes `import duckdb` raise ImportError
    code, out, err = run(capsys, "test", "--fixtures", str(FIXTURES))
    assert code == 2 and out == ""
    assert err == "gecko-trace-check: duckdb is not installed: pip install 'gecko-trace-check[run]'\n"


def test_missing_numpy_is_one_line(warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)
    code, out, err = run(capsys, "test", "--fixtures", str(FIXTURES))
    assert code == 2 and out == ""
    assert err == (
        "gecko-trace-check: numpy is not installed (DuckDB needs it to call Python functions): "
        "pip install 'gecko-trace-check[run]'\n"
    )


def test_malformed_fixture_yaml_names_file_and_line(warehouse: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = fixtures / PROJECT / "firefox_desktop_derived" / "gecko_trace_signatures_v1" / "test_signature_counts" / "expect.yaml"
    expect.write_text("- submission_date: 2024-05-01\n  signature: x\n  hits: [1, 2\n")
    code, out, err = run(capsys, "test", "--fixtures", str(fixtures))
    assert code == 2 and out == ""  # fixtures are read before anything runs
    assert err.startswith(f"gecko-trace-check: {expect}:4: invalid YAML:")
    assert len(err.splitlines()) == 1


def test_a_row_that_is_not_a_mapping_names_its_line(warehouse: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expect = fixtures / PROJECT / "gecko_trace_aggregates" / "spans" / "test_all_applications" / "expect.yaml"
    expect.write_text("- {application: a}\n- just text\n")
    code, _, err = run(capsys, "test", "--fixtures", str(fixtures))
    assert code == 2
    assert err == f"gecko-trace-check: {expect}:2: row 2 is not a mapping of column names to values\n"


def test_a_column_outside_the_schema_is_an_input_error(warehouse: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = fixtures / PROJECT / "firefox_desktop_derived" / "gecko_trace_signatures_v1" / "test_signature_counts"
    rows = folder / "firefox_desktop_derived.gecko_trace_traces_v1.yaml"
    rows.write_text("- {submission_date: 2024-05-01, trace_id: t, sigature: s}\n")
    code, _, err = run(capsys, "test", "--fixtures", str(fixtures))
    assert code == 2
    assert "firefox_desktop_derived.gecko_trace_traces_v1.yaml: row 1: column 'sigature' is not in the table's schema" in err


def test_a_missing_input_table_or_parameter_fails_the_test(warehouse: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signatures = fixtures / PROJECT / "firefox_desktop_derived" / "gecko_trace_signatures_v1" / "test_signature_counts"
    (signatures / "firefox_desktop_derived.gecko_trace_traces_v1.yaml").unlink()
    (fixtures / PROJECT / "firefox_desktop_derived" / "gecko_trace_traces_v1" / "test_trace_trees" / "query_params.yaml").unlink()
    code, out, _ = run(capsys, "test", "--fixtures", str(fixtures))
    assert code == 1
    assert f"the query reads tables the test has no rows for: add {PROJECT}.firefox_desktop_derived.gecko_trace_traces_v1.yaml" in out
    assert "uses @submission_date, but query_params.yaml does not set it" in out


def test_no_fixtures_for_the_render_is_an_input_error(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (warehouse / "tests" / "sql" / "other-project").mkdir(parents=True)
    code, out, err = run(capsys, "test")
    assert code == 2 and out == ""
    assert "no tests for the rendered queries and views" in err


def test_a_schema_file_in_the_test_folder_types_the_ping_table(warehouse: Path, fixtures: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With a schema, the OTLP data may be written as JSON text, as BigQuery exports it."""
    folder = fixtures / PROJECT / "firefox_desktop_derived" / "gecko_trace_spans_v1" / "test_spans_one_day"
    for entry in folder.glob("*.yaml"):
        if entry.name != "query_params.yaml":
            entry.unlink()
    table = f"{PROJECT}.firefox_desktop.gecko_trace"
    (folder / f"{table}.schema.yaml").write_text(
        "fields:\n"
        "  - {name: submission_timestamp, type: TIMESTAMP}\n"
        "  - {name: document_id, type: STRING}\n"
        "  - name: metrics\n"
        "    type: RECORD\n"
        "    fields:\n"
        "      - {name: object, type: RECORD, fields: [{name: gecko_trace_traces_data, type: JSON}]}\n"
    )
    data = '{"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": "t", "span_id": "s", "name": "N"}]}]}]}'
    (folder / f"{table}.yaml").write_text(
        f"- submission_timestamp: '2024-05-01 10:00:00 UTC'\n  document_id: d\n  metrics: {{object: {{gecko_trace_traces_data: '{data}'}}}}\n"
    )
    (folder / "expect.yaml").write_text(
        "- {submission_date: 2024-05-01, submission_timestamp: '2024-05-01T10:00:00Z', document_id: d, trace_id: t, span_id: s, name: N}\n"
    )
    code, out, _ = run(capsys, "test", "--fixtures", str(fixtures))
    assert "PASS firefox_desktop_derived.gecko_trace_spans_v1 test_spans_one_day\n" in out
    assert code == 0
