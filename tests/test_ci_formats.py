"""The CI gate formats: GitHub workflow commands, the markdown summary, the step summary."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gecko_trace_check.compare import STALE, FileResult
from gecko_trace_check.reporters import Outcome, github, markdown
from tests.conftest import PROJECT, run

SQL = f"sql/{PROJECT}"
SPANS = "firefox_desktop_derived/gecko_trace_spans_v1"
TRACES = "firefox_desktop_derived/gecko_trace_traces_v1"
BETA_SIGNATURES = "org_mozilla_firefox_beta_derived/gecko_trace_signatures_v1"
ORPHAN = "old_app_derived/gecko_trace_spans_v1"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def drifted(generated: Path) -> Path:
    """A stale schema, a missing table (all three files) and an orphaned query."""
    edit(generated / SPANS / "schema.yaml", "  - name: trace_id\n    type: STRING", "  - name: trace_id\n    type: BYTES")
    shutil.rmtree(generated / BETA_SIGNATURES)
    (generated / ORPHAN).mkdir(parents=True)
    (generated / ORPHAN / "query.sql").write_text("SELECT 1\n")
    return generated


@dataclass(frozen=True)
class Finding:
    """The shape the lint's findings have (what the reporters read)."""

    rule: str
    severity: str
    message: str
    object: str = ""
    path: str = ""
    line: int | None = None
    column: int | None = None


# --- --format github ---------------------------------------------------------------


def test_github_one_command_per_drifted_file(drifted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--format", "github", "--no-lint")
    assert code == 1
    assert err == ""
    beta = "org_mozilla_firefox_beta_derived.gecko_trace_signatures_v1"
    assert out.splitlines() == [
        f"::error file={SQL}/{SPANS}/schema.yaml,line=1,title=firefox_desktop_derived.gecko_trace_spans_v1"
        "::schema.yaml: field trace_id: type BYTES -> STRING",
        f"::error file={SQL}/{BETA_SIGNATURES}/metadata.yaml,line=1,title={beta}::metadata.yaml: missing; the render writes it",
        f"::error file={SQL}/{BETA_SIGNATURES}/query.sql,line=1,title={beta}::query.sql: missing; the render writes it",
        f"::error file={SQL}/{BETA_SIGNATURES}/schema.yaml,line=1,title={beta}::schema.yaml: missing; the render writes it",
        f"::error file={SQL}/{ORPHAN}/query.sql,line=1,title=old_app_derived.gecko_trace_spans_v1"
        "::query.sql: no longer generated; --fix deletes it",
        "gecko-trace-check: drift in 3 objects (5 files); run `gecko-trace-check --fix`.",
    ]


def test_github_points_at_the_first_changed_sql_line(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = generated / TRACES / "query.sql"
    lines = query.read_text().splitlines()
    first = next(number for number, line in enumerate(lines, 1) if "MIN(" in line)
    edit(query, "MIN(", "MAX(")
    code, out, _ = run(capsys, "--format", "github", "--no-lint")
    assert code == 1
    command, summary = out.splitlines()
    assert command.startswith(f"::error file={SQL}/{TRACES}/query.sql,line={first},title=firefox_desktop_derived.gecko_trace_traces_v1::")
    # Several changes are one annotation, one line each (an escaped newline).
    assert command.split("::", 2)[2].split("%0A") == ["query.sql: query changed", f"query.sql: line {first}: MAX -> MIN"]
    assert summary.startswith("gecko-trace-check: drift in 1 object")


def test_github_format_only_is_a_notice_with_strict(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    query = generated / TRACES / "query.sql"
    query.write_text(query.read_text().replace("SELECT", "select"))
    code, out, _ = run(capsys, "--format", "github", "--no-lint")
    assert code == 0
    assert out.startswith("gecko-trace-check: in sync (13 objects, ")
    assert "::" not in out

    code, out, _ = run(capsys, "--format", "github", "--no-lint", "--strict")
    assert code == 1
    assert out.splitlines()[0] == (
        f"::notice file={SQL}/{TRACES}/query.sql,line=1,title=firefox_desktop_derived.gecko_trace_traces_v1"
        "::query.sql: formatting differs from the render (--strict)"
    )


def test_github_escapes_paths_and_messages(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A sql dir with a comma and a colon: both end a property value unless escaped.
    assert run(capsys, "generate", "--output-dir", "odd,dir:sql")[0] == 0
    shutil.rmtree(warehouse / "odd,dir:sql" / PROJECT / SPANS)
    code, out, _ = run(capsys, "--format", "github", "--no-lint", "--sql-dir", "odd,dir:sql")
    assert code == 1
    assert out.splitlines()[0] == (
        f"::error file=odd%2Cdir%3Asql/{PROJECT}/{SPANS}/metadata.yaml,line=1,"
        "title=firefox_desktop_derived.gecko_trace_spans_v1::metadata.yaml: missing; the render writes it"
    )


def test_github_escaping_rules() -> None:
    assert github.escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert github.escape_property("100% a,b:c\n") == "100%25 a%2Cb%3Ac%0A"
    assert github.command("warning", "x%", file="a:b", line=3, col=None, title="t,1") == "::warning file=a%3Ab,line=3,title=t%2C1::x%25"
    assert github.command("error", "no properties") == "::error::no properties"


def test_github_lint_findings_carry_their_line_and_column() -> None:
    outcome = Outcome(
        sql_dir="sql",
        target_project=PROJECT,
        applications=("firefox_desktop",),
        files=[],
        findings=[
            Finding("columns-match-schema", "error", "column duration_ms is not in schema.yaml", "a_derived.t", f"{PROJECT}/a_derived/t/query.sql", 12, 5),
            Finding("reference-resolves", "warning", "unknown table x", "gecko_trace_aggregates.spans"),
        ],
    )
    assert github.render(outcome).splitlines() == [
        f"::error file=sql/{PROJECT}/a_derived/t/query.sql,line=12,col=5,title=a_derived.t::column duration_ms is not in schema.yaml [columns-match-schema]",
        "::warning title=gecko_trace_aggregates.spans::unknown table x [reference-resolves]",
        "gecko-trace-check: 1 lint errors.",
    ]


def test_github_in_sync_is_one_plain_line(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "github", "--no-lint")
    assert code == 0
    assert len(out.splitlines()) == 1
    assert out.startswith("gecko-trace-check: in sync (13 objects, ")


# --- --format markdown -------------------------------------------------------------


def test_markdown_table_details_and_fix_command(drifted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(drifted / TRACES / "query.sql", "MIN(", "MAX(")
    code, out, _ = run(capsys, "--format", "markdown", "--no-lint", "--target-project", PROJECT)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "### Gecko Trace SQL: drift in 4 objects"
    assert "2 changed, 1 missing, 1 orphaned; 10 in sync." in lines
    assert "| | type | object | what changed |" in lines
    assert "| `~` | table | `firefox_desktop_derived.gecko_trace_spans_v1` | schema.yaml: field trace\\_id: type BYTES -> STRING |" in lines
    assert "| `+` | table | `org_mozilla_firefox_beta_derived.gecko_trace_signatures_v1` | metadata.yaml: missing<br>query.sql: missing<br>schema.yaml: missing |" in lines
    assert "| `-` | table | `old_app_derived.gecko_trace_spans_v1` | query.sql: no longer generated |" in lines
    traces_row = next(line for line in lines if "gecko_trace_traces_v1" in line and line.startswith("| `~`"))
    assert "query.sql: query changed<br>query.sql: line " in traces_row and ": MAX -> MIN" in traces_row
    # One collapsible block per stale SQL file, with a diff fence inside.
    assert out.count("<details>") == out.count("</details>") == 1
    block = out[out.index("<details>") : out.index("</details>")]
    assert f"<summary><code>{SQL}/{TRACES}/query.sql</code>: " in block
    assert "\n```diff\n" in block
    diff_lines = block.splitlines()
    # The committed file (MAX) against the render (MIN), as --fix would change it.
    assert any(line.startswith("-") and "MAX(" in line for line in diff_lines)
    assert any(line.startswith("+") and "MIN(" in line for line in diff_lines)
    assert out.rstrip().endswith(
        f"To fix it, run:\n\n```sh\ngecko-trace-check --fix --target-project {PROJECT}\n```"
    )


def test_markdown_in_sync(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--format", "markdown", "--no-lint")
    assert code == 0
    assert out.splitlines()[0] == "### Gecko Trace SQL: in sync"
    assert "|" not in out and "--fix" not in out


def test_markdown_escapes_table_cells() -> None:
    assert markdown.cell("a|b <script> *x* `y`\nz") == "a\\|b \\<script> \\*x\\* \\`y\\`<br>z"


def _stale(name: str, diff: str) -> FileResult:
    path = f"{PROJECT}/{name}_derived/gecko_trace_spans_v1/query.sql"
    return FileResult(path, STALE, f"{name}_derived.gecko_trace_spans_v1", "table", "query.sql", ("query.sql: query changed",), diff, b"")


def _outcome(files: list[FileResult]) -> Outcome:
    return Outcome(sql_dir="sql", target_project=PROJECT, applications=("firefox_desktop",), files=files)


def test_markdown_cuts_a_giant_diff_first() -> None:
    giant = "--- a\n+++ b\n@@ -1,40000 +1,40000 @@\n" + "\n".join(f"-SELECT {n}\n+SELECT {n + 1}" for n in range(40_000))
    small = "--- a\n+++ b\n@@ -1 +1 @@\n-SELECT 1\n+SELECT 2"
    text = markdown.render(_outcome([_stale("big", giant), _stale("small", small)]))
    assert len(text) <= markdown.MAX_CHARS
    # Every row stays; only the giant diff is left out, and the summary says so.
    assert "`big_derived.gecko_trace_spans_v1`" in text and "`small_derived.gecko_trace_spans_v1`" in text
    assert text.count("<details>") == 1 and "+SELECT 2" in text
    assert "Left out to stay within GitHub's 65,536-character limit: 1 diff." in text
    assert text.rstrip().endswith("```sh\ngecko-trace-check --fix\n```")


def test_markdown_cuts_rows_when_diffs_are_not_enough() -> None:
    diff = "--- a\n+++ b\n@@ -1 +1 @@\n-SELECT 1\n+SELECT 2"
    files = [_stale(f"app_{n:04d}", diff) for n in range(20)]
    text = markdown.render(_outcome(files), max_chars=2_000)
    assert len(text) <= 2_000
    assert "<details>" not in text
    kept = text.count("| `~` | table |")
    assert 0 < kept < 20
    assert f"limit: {20 - kept} objects, 20 diffs._" in text


def test_markdown_many_applications_stay_under_the_limit(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    apps = ", ".join(f'"app_number_{n:04d}"' for n in range(400))
    (warehouse / "pyproject.toml").write_text(f"[tool.gecko-trace-check]\napplications = [{apps}]\n")
    code, out, _ = run(capsys, "--format", "markdown", "--no-lint")
    assert code == 1
    assert len(out.rstrip("\n")) <= 65_536
    assert out.startswith("### Gecko Trace SQL: drift in 1204 objects")
    assert "objects._ Run `gecko-trace-check` locally" in out
    assert out.rstrip().endswith("```sh\ngecko-trace-check --fix\n```")


# --- GITHUB_STEP_SUMMARY -------------------------------------------------------------


def test_step_summary_is_appended_whatever_the_format(drifted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    summary = tmp_path / "step_summary.md"
    summary.write_text("## An earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = run(capsys, "--format", "github", "--no-lint")
    assert code == 1
    assert out.startswith("::error ")  # stdout keeps its format
    text = summary.read_text()
    assert text.startswith("## An earlier step\n### Gecko Trace SQL: drift in 3 objects\n")
    assert "| `-` | table | `old_app_derived.gecko_trace_spans_v1` |" in text

    code, _, _ = run(capsys, "--no-lint")
    assert code == 1
    assert summary.read_text().count("### Gecko Trace SQL: drift in 3 objects") == 2


def test_step_summary_that_cannot_be_written_only_warns(drifted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a folder: cannot be opened for writing
    code, out, err = run(capsys, "--no-lint")
    assert code == 1
    assert "Drift in 3 objects" in out
    assert err.startswith(f"gecko-trace-check: warning: cannot write the step summary to {tmp_path}: ")

    shutil.rmtree(drifted)
    assert run(capsys, "generate")[0] == 0
    code, _, err = run(capsys, "--no-lint")
    assert code == 0  # in sync stays in sync
    assert "warning: cannot write the step summary" in err


# --- action.yml ----------------------------------------------------------------------

ACTION = Path(__file__).resolve().parent.parent / "action.yml"


def _run_action_check_step(warehouse: Path, **inputs: str) -> subprocess.CompletedProcess:
    """The action's check step, run by bash as the runner would, with the inputs given."""
    action = yaml.safe_load(ACTION.read_text())
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()} | inputs
    step = next(step for step in action["runs"]["steps"] if step.get("name") == "Check the generated Gecko Trace SQL")
    env = {key: value for key, value in os.environ.items() if key != "GITHUB_STEP_SUMMARY"}
    for name, expression in step["env"].items():
        env[name] = values[re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expression).group(1)]
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # the tool under test
    return subprocess.run(["bash", "-c", step["run"]], cwd=warehouse, env=env, capture_output=True, text=True)


def test_action_is_a_composite_action_that_installs_and_runs_the_gate() -> None:
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    assert {"sql-dir", "target-project", "apps", "templates", "strict", "version", "python-version"} <= set(action["inputs"])
    steps = action["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    assert steps[0]["with"]["python-version"] == "${{ inputs.python-version }}"
    install = steps[1]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}"
    assert 'pip install' in install["run"] and '"${REQUIREMENT:-$ACTION_PATH}"' in install["run"]
    # No input is pasted into a script: they arrive as environment variables.
    assert all("${{" not in step.get("run", "") for step in steps)


def test_action_check_step_passes_the_inputs_as_flags(generated: Path) -> None:
    warehouse = generated.parent.parent
    done = _run_action_check_step(warehouse)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "gecko-trace-check check --format github"
    assert done.stdout.splitlines()[-1].startswith("gecko-trace-check: in sync (13 objects, ")

    done = _run_action_check_step(warehouse, apps="firefox_desktop\norg_mozilla_fenix_nightly", strict="true", args="--no-lint --ignore-key friendly_name")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "gecko-trace-check check --format github --app firefox_desktop --app org_mozilla_fenix_nightly "
        "--strict --no-lint --ignore-key friendly_name"
    )
    # Without org_mozilla_firefox_beta, its tables are orphans and the views changed.
    assert f"::error file=sql/{PROJECT}/org_mozilla_firefox_beta_derived/gecko_trace_spans_v1/query.sql,line=1," in done.stdout
    assert lines[-1].startswith("gecko-trace-check: drift in ")

    done = _run_action_check_step(warehouse, **{"sql-dir": "elsewhere", "target-project": "other-project", "args": "--no-lint"})
    assert done.returncode == 1  # nothing was generated there
    lines = done.stdout.splitlines()
    assert lines[0] == "gecko-trace-check check --format github --sql-dir elsewhere --target-project other-project --no-lint"
    assert lines[1].startswith("::error file=elsewhere/other-project/firefox_desktop_derived/")


def test_github_summary_line_counts_in_the_singular(warehouse, capsys) -> None:
    from tests.conftest import run

    assert run(capsys, "generate")[0] == 0
    schema = warehouse / "sql/moz-fx-data-shared-prod/firefox_desktop_derived/gecko_trace_traces_v1/schema.yaml"
    schema.unlink()
    code, out, _ = run(capsys, "--format", "github", "--no-lint")
    assert code == 1
    assert out.splitlines()[-1] == "gecko-trace-check: drift in 1 object (1 file); run `gecko-trace-check --fix`."
