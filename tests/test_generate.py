"""`gecko-trace-check generate`: the shipped pipeline, other people's templates, template errors."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import PROJECT, run

TABLES = ("gecko_trace_signatures_v1", "gecko_trace_spans_v1", "gecko_trace_traces_v1")
VIEWS = ("signatures", "spans", "traces")
DEFAULT_APPS = ("firefox_desktop", "org_mozilla_fenix_nightly", "org_mozilla_firefox_beta")
ROOT = Path(__file__).resolve().parent.parent


def expected_paths(project: str, apps: tuple[str, ...]) -> set[str]:
    paths = {f"{project}/gecko_trace_aggregates/dataset_metadata.yaml"}
    for app in apps:
        for table in TABLES:
            paths |= {f"{project}/{app}_derived/{table}/{name}" for name in ("query.sql", "metadata.yaml", "schema.yaml")}
    for view in VIEWS:
        paths |= {f"{project}/gecko_trace_aggregates/{view}/{name}" for name in ("view.sql", "metadata.yaml", "schema.yaml")}
    return paths


def files_below(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def test_generate_writes_exactly_the_37_files(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "generate", "--output-dir", "out/sql")
    assert code == 0, err
    assert out == f"Wrote 37 files for 3 applications to out/sql/{PROJECT}\n"
    assert files_below(warehouse / "out/sql") == expected_paths(PROJECT, DEFAULT_APPS)
    for path in (warehouse / "out/sql").rglob("*.sql"):
        text = path.read_text()
        assert text.endswith("\n") and not text.endswith("\n\n"), path


def test_generate_defaults_to_the_configured_sql_dir(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (warehouse / "pyproject.toml").write_text('[tool.gecko-trace-check]\nsql-dir = "bq/sql"\n')
    code, out, _ = run(capsys, "generate")
    assert code == 0
    assert f"to bq/sql/{PROJECT}" in out
    assert len(files_below(warehouse / "bq/sql")) == 37


def test_app_and_project_change_paths_and_every_reference(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "generate", "--output-dir", "x", "--target-project", "my-test-project", "--app", "org_mozilla_focus")
    assert code == 0
    assert files_below(warehouse / "x") == expected_paths("my-test-project", ("org_mozilla_focus",))
    for path in (warehouse / "x").rglob("*.sql"):
        text = path.read_text()
        assert PROJECT not in text, path
        assert "firefox_desktop" not in text, path
    spans = (warehouse / "x/my-test-project/org_mozilla_focus_derived/gecko_trace_spans_v1/query.sql").read_text()
    assert "`my-test-project.org_mozilla_focus.gecko_trace`" in spans
    view = (warehouse / "x/my-test-project/gecko_trace_aggregates/traces/view.sql").read_text()
    assert "`my-test-project.org_mozilla_focus_derived.gecko_trace_traces_v1`" in view


def make_bqetl_templates(root: Path) -> Path:
    """A generator directory in bigquery-etl's layout, with every rule exercised."""
    files = {
        "derived/_shared/columns.sql": "trace_id,\n  span_id",
        "derived/_shared/ignored.yaml": "never: written\n",
        "derived/events_v1/query.sql": (
            "-- {{ app_id }} in {{ target_project }}\n"
            "SELECT\n  {% include '_shared/columns.sql' %}\n"
            "FROM `{{ target_project }}.{{ app_id }}.{{ ping_name }}`\n"
        ),
        "derived/events_v1/metadata.yaml": "friendly_name: Events of {{ app_id }}\n",
        "derived/events_v1/backfill.yaml": "2024-01-01:\n  reason: {{ app_id }} backfill\n",
        "derived/events_v1/schema.yaml": "fields:\n- name: trace_id  # {{ not rendered }}\n  type: STRING\n",
        "derived/events_v1/notes.md": "not a generated file\n",
        "derived/chains_v1/script.sql": "CREATE TEMP TABLE x AS SELECT 1;{# no newline at the end #}",
        "derived/no_sql_v1/metadata.yaml": "friendly_name: {{ app_id }}\n",
        "aggregates/dataset_metadata.yaml": 'friendly_name: "{{ kept as is }}"\n',
        "aggregates/_macros.sql": "{% macro union(apps) %}{% for a in apps %}{{ a }}{% endfor %}{% endmacro %}",
        "aggregates/events/events.sql": (
            "{% from '_macros.sql' import union %}CREATE VIEW `{{ target_project }}.gecko_trace_aggregates.events` AS\n"
            "{{ union(applications) }} {{ ping_name }}\n\n"
        ),
        "aggregates/events/metadata.yaml": "friendly_name: '{{ not rendered }}'\n",
        "aggregates/events/schema.yaml": "fields: []\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_bqetl_layout_renders_byte_for_byte_by_the_documented_rules(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = make_bqetl_templates(warehouse / "sql_generators/gecko_trace/templates")
    code, _, err = run(capsys, "generate", "--output-dir", "out", "--templates", str(templates), "--app", "a_one", "--app", "b_two", "--target-project", "proj-123")
    assert code == 0, err
    out = warehouse / "out/proj-123"
    expected = {}
    for app in ("a_one", "b_two"):
        base = f"{app}_derived"
        expected[f"{base}/events_v1/query.sql"] = f"-- {app} in proj-123\nSELECT\n  trace_id,\n  span_id\nFROM `proj-123.{app}.gecko_trace`\n\n"
        expected[f"{base}/events_v1/metadata.yaml"] = f"friendly_name: Events of {app}\n"
        expected[f"{base}/events_v1/backfill.yaml"] = f"2024-01-01:\n  reason: {app} backfill\n"
        expected[f"{base}/events_v1/schema.yaml"] = "fields:\n- name: trace_id  # {{ not rendered }}\n  type: STRING\n"
        expected[f"{base}/chains_v1/script.sql"] = "CREATE TEMP TABLE x AS SELECT 1;\n"
    expected["gecko_trace_aggregates/dataset_metadata.yaml"] = 'friendly_name: "{{ kept as is }}"\n'
    expected["gecko_trace_aggregates/events/view.sql"] = "CREATE VIEW `proj-123.gecko_trace_aggregates.events` AS\na_oneb_two gecko_trace\n\n\n"
    expected["gecko_trace_aggregates/events/metadata.yaml"] = "friendly_name: '{{ not rendered }}'\n"
    expected["gecko_trace_aggregates/events/schema.yaml"] = "fields: []\n"
    assert files_below(out) == set(expected)
    for path, text in expected.items():
        assert (out / path).read_text() == text, path


@pytest.mark.parametrize(
    ("template", "text", "message"),
    [
        ("derived/gecko_trace_spans_v1/query.sql", "SELECT 1\n{% if %}\n", "query.sql:2: template syntax error"),
        ("derived/gecko_trace_spans_v1/query.sql", "SELECT\n  {{ app_id }},\n  {{ no_such_variable }}\n", "query.sql:3: undefined template variable: 'no_such_variable' is undefined"),
        ("derived/gecko_trace_spans_v1/metadata.yaml", "friendly_name: {{ target_project }}\n", "metadata.yaml:1: undefined template variable: 'target_project' is undefined"),
        ("aggregates/spans/view.sql", "{% include '_missing.sql' %}", "template not found: _missing.sql"),
    ],
)
def test_template_errors_name_the_template_and_write_nothing(
    warehouse: Path, capsys: pytest.CaptureFixture[str], template: str, text: str, message: str
) -> None:
    templates = warehouse / "templates"
    subprocess.run(["cp", "-r", str(ROOT / "templates"), str(templates)], check=True)
    (templates / template).write_text(text)
    code, out, err = run(capsys, "generate", "--templates", "templates")
    assert code == 2
    assert message in err
    assert f"gecko-trace-check: templates/{template}:" in err or f"gecko-trace-check: templates/{template}: " in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (warehouse / "sql").exists()


def test_non_utf8_template_is_named(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = make_bqetl_templates(warehouse / "t")
    (templates / "derived/events_v1/query.sql").write_bytes(b"SELECT '\xff'")
    code, _, err = run(capsys, "generate", "--templates", "t")
    assert code == 2
    assert "events_v1/query.sql: not UTF-8" in err


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed in a fresh venv; returns its bin folder."""
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(base / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (base / "dist").glob("gecko_trace_check-*.whl")
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run([env_dir / "bin/python", "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True, capture_output=True)
    # The test environment's dependencies stand in for PyPI (appended after the venv's own
    # site-packages, so the package itself still comes from the wheel).
    site = subprocess.run(
        [env_dir / "bin/python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    Path(site, "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir / "bin"


def test_wheel_ships_the_templates_and_runs_from_any_folder(installed_wheel: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [installed_wheel / "gecko-trace-check", "generate", "--output-dir", "X"], cwd=elsewhere, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert files_below(elsewhere / "X") == expected_paths(PROJECT, DEFAULT_APPS)
    where = subprocess.run(
        [installed_wheel / "python", "-c", "from gecko_trace_check.render import default_templates; print(default_templates())"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert where.startswith(str(installed_wheel.parent)) and "site-packages/gecko_trace_check/templates" in where
    check = subprocess.run([installed_wheel / "gecko-trace-check", "--sql-dir", "X"], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "In sync" in check.stdout
