"""The pre-commit hooks, run by the real pre-commit on real temporary git repositories.

The hook repository is a git copy of this project's working tree (tracked and untracked,
not ignored), committed, so the hooks install the code under test. pre-commit builds the
hook environment itself (a fresh virtualenv, ``pip install`` of that clone): nothing the
developer installed by hand. The environment is built once per module and takes some
tens of seconds; the runs after that take about a second each.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT, run

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"
NEW_APP = "org_mozilla_fenix_nightly"

Runner = Callable[..., subprocess.CompletedProcess]


def _environment(pre_commit_home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.pop("GITHUB_STEP_SUMMARY", None)
    env.update(
        PRE_COMMIT_HOME=str(pre_commit_home),
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,  # no signing, hooks or templates from the machine
    )
    return env


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit_all(repo: Path, env: dict[str, str], message: str) -> str:
    _git(repo, env, "add", "--all")
    _git(repo, env, "commit", "--quiet", "--no-verify", "-m", message)
    return _git(repo, env, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    """A git copy of this project at one commit, and the environment to run pre-commit in."""
    base = tmp_path_factory.mktemp("precommit")
    env = _environment(base / "pre-commit-home")
    clone = base / "gecko-trace-check"
    listed = _git(ROOT, env, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in sorted(set(listed.split("\0")) - {""}):
        source = ROOT / name
        if source.is_file():  # a file deleted in the working tree is still listed as cached
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, clone / name)
    _git(clone, env, "init", "--quiet")
    return clone, _commit_all(clone, env, "the code under test"), env


@pytest.fixture
def pre_commit(hook_repo: tuple[Path, str, dict[str, str]], tmp_path: Path) -> tuple[Path, Runner]:
    """A warehouse git repository using the hooks, with its sql tree generated and committed."""
    clone, rev, env = hook_repo
    warehouse = tmp_path / "warehouse"
    warehouse.mkdir()
    _git(warehouse, env, "init", "--quiet")
    (warehouse / "pyproject.toml").write_text('[tool.gecko-trace-check]\napplications = ["firefox_desktop"]\n')
    config = {
        "repos": [
            {
                "repo": str(clone),
                "rev": rev,
                "hooks": [{"id": "gecko-trace-check"}, {"id": "gecko-trace-fix", "stages": ["manual"]}],
            }
        ]
    }
    (warehouse / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (warehouse / "README.md").write_text("A warehouse.\n")
    generate = [sys.executable, "-m", "gecko_trace_check", "generate"]
    subprocess.run(generate, cwd=warehouse, env=env, capture_output=True, check=True)
    _commit_all(warehouse, env, "a warehouse with a generated sql tree")

    def run_pre_commit(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "pre_commit", "run", "--color", "never", *args]
        return subprocess.run(command, cwd=warehouse, env=env, capture_output=True, text=True, timeout=600)

    return warehouse, run_pre_commit


def test_hooks_pass_fail_fix_and_pass_again(pre_commit: tuple[Path, Runner]) -> None:
    warehouse, run_pre_commit = pre_commit
    done = run_pre_commit("--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^Gecko Trace SQL is in sync with its templates\.+Passed$", done.stdout, re.M), done.stdout

    # A new application in the warehouse's configuration: its tables are missing and the
    # cross-application views now read one more application.
    pyproject = warehouse / "pyproject.toml"
    pyproject.write_text(f'[tool.gecko-trace-check]\napplications = ["firefox_desktop", "{NEW_APP}"]\n')
    done = run_pre_commit("--all-files")
    assert done.returncode == 1
    report = done.stdout
    assert re.search(r"^Gecko Trace SQL is in sync with its templates\.+Failed$", report, re.M), report
    assert "- hook id: gecko-trace-check\n- exit code: 1" in report
    assert f"+ table {NEW_APP}_derived.gecko_trace_spans_v1" in report
    assert "~ view  gecko_trace_aggregates.spans" in report
    assert "Run `gecko-trace-check --fix` to rewrite " in report

    done = run_pre_commit("--all-files", "--hook-stage", "manual", "gecko-trace-fix")
    assert done.returncode == 1  # the hook changed files: the commit stops to stage them
    assert re.search(r"^Rewrite the generated Gecko Trace SQL\.+Failed$", done.stdout, re.M), done.stdout
    assert "- files were modified by this hook" in done.stdout  # the views, tracked files
    new_query = f"sql/{PROJECT}/{NEW_APP}_derived/gecko_trace_spans_v1/query.sql"
    assert f"wrote {new_query}" in done.stdout  # a new file, which git diff does not show
    assert (warehouse / new_query).is_file()

    done = run_pre_commit("--all-files")
    assert re.search(r"^Gecko Trace SQL is in sync with its templates\.+Passed$", done.stdout, re.M), done.stdout
    done = run_pre_commit("--all-files", "--hook-stage", "manual", "gecko-trace-fix")
    assert done.returncode == 0, done.stdout  # a second fix changes nothing
    assert re.search(r"^Rewrite the generated Gecko Trace SQL\.+Passed$", done.stdout, re.M), done.stdout


def test_hooks_skip_commits_that_cannot_change_the_render(pre_commit: tuple[Path, Runner]) -> None:
    warehouse, run_pre_commit = pre_commit
    # Drift that only a commit touching the owned files or the configuration would see.
    (warehouse / "pyproject.toml").write_text(f'[tool.gecko-trace-check]\napplications = ["firefox_desktop", "{NEW_APP}"]\n')
    done = run_pre_commit("--files", "README.md")
    assert done.returncode == 0, done.stdout
    assert re.search(r"^Gecko Trace SQL is in sync with its templates\.+\(no files to check\)Skipped$", done.stdout, re.M)
    done = run_pre_commit("--files", "pyproject.toml")
    assert done.returncode == 1
    assert f"+ table {NEW_APP}_derived.gecko_trace_spans_v1" in done.stdout


def test_local_hook_on_in_repo_templates(hook_repo: tuple[Path, str, dict[str, str]], tmp_path: Path) -> None:
    """The README's `repo: local` variant: the warehouse keeps the templates in-repo."""
    clone, _, env = hook_repo
    warehouse = tmp_path / "warehouse"
    templates = warehouse / "sql_generators" / "gecko_trace" / "templates"
    shutil.copytree(ROOT / "templates", templates)
    _git(warehouse, env, "init", "--quiet")
    hook = {
        "id": "gecko-trace-check",
        "name": "Gecko Trace SQL is in sync with its templates",
        "entry": "gecko-trace-check check --templates sql_generators/gecko_trace/templates",
        "language": "python",
        "additional_dependencies": [f"gecko-trace-check @ {clone.as_uri()}"],
        "pass_filenames": False,
        "require_serial": True,
        "files": r"^(pyproject\.toml|sql_generators/gecko_trace/.+|.+/([^/]+_derived/gecko_trace_[^/]+|gecko_trace_aggregates)/.+)$",
    }
    (warehouse / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]}, sort_keys=False))
    generate = [sys.executable, "-m", "gecko_trace_check", "generate", "--templates", str(templates)]
    subprocess.run(generate, cwd=warehouse, env=env, capture_output=True, check=True)
    _commit_all(warehouse, env, "in-repo templates and their sql tree")
    command = [sys.executable, "-m", "pre_commit", "run", "--color", "never", "--all-files"]

    done = subprocess.run(command, cwd=warehouse, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

    # A template edit in the warehouse: the committed query no longer matches it.
    query = templates / "derived" / "gecko_trace_traces_v1" / "query.sql"
    query.write_text(query.read_text().replace("MIN(", "MAX(", 1))
    done = subprocess.run(command, cwd=warehouse, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "~ table firefox_desktop_derived.gecko_trace_traces_v1" in done.stdout
    assert "query.sql: line " in done.stdout and "MIN -> MAX" in done.stdout


# --- the files: pattern, without pre-commit -------------------------------------------


def _files_patterns() -> dict[str, re.Pattern[str]]:
    hooks = yaml.safe_load(HOOKS.read_text())
    return {hook["id"]: re.compile(hook["files"]) for hook in hooks}


def test_hook_definitions() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    assert set(hooks) == {"gecko-trace-check", "gecko-trace-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["require_serial"] is True
        assert hook["entry"].split()[:2] == ["gecko-trace-check", "check"]
    assert "--fix" not in hooks["gecko-trace-check"]["entry"]
    assert "--fix" in hooks["gecko-trace-fix"]["entry"].split()


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        ".pre-commit-config.yaml",
        "sql_generators/gecko_trace/templates/derived/gecko_trace_spans_v1/query.sql",
        "sql_generators/gecko_trace/__init__.py",
        f"sql/{PROJECT}/firefox_desktop_derived/gecko_trace_spans_v1/query.sql",
        f"sql/{PROJECT}/org_mozilla_fenix_derived/gecko_trace_traces_v1/schema.yaml",
        f"sql/{PROJECT}/firefox_desktop_derived/gecko_trace_signatures_v1/checks.sql",
        f"sql/{PROJECT}/gecko_trace_aggregates/dataset_metadata.yaml",
        f"sql/{PROJECT}/gecko_trace_aggregates/spans/view.sql",
        "warehouse/sql/my-project/firefox_desktop_derived/gecko_trace_spans_v1/metadata.yaml",
    ],
)
def test_files_pattern_matches_what_can_change_the_render(path: str) -> None:
    for hook_id, pattern in _files_patterns().items():
        assert pattern.search(path), f"{hook_id} would not run for {path}"


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        "docs/pyproject.toml",
        "tools/pyproject.toml.bak",
        f"sql/{PROJECT}/firefox_desktop_derived/clients_daily_v6/query.sql",
        f"sql/{PROJECT}/firefox_desktop/gecko_trace/view.sql",
        f"sql/{PROJECT}/telemetry_derived/main_v5/gecko_trace_notes.md",
        f"sql/{PROJECT}/gecko_trace_aggregates_old/spans/view.sql",
        "sql_generators/glean_usage/templates/query.sql",
        "bigquery_etl/cli/generate.py",
    ],
)
def test_files_pattern_leaves_unrelated_paths_alone(path: str) -> None:
    for hook_id, pattern in _files_patterns().items():
        assert not pattern.search(path), f"{hook_id} would run for {path}"


# --- --exit-non-zero-on-fix, what the fix hook relies on ------------------------------


def test_exit_non_zero_on_fix(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(generated / "firefox_desktop_derived" / "gecko_trace_spans_v1")
    assert run(capsys, "--fix")[0] == 0  # --fix alone: the tree is now in sync
    shutil.rmtree(generated / "firefox_desktop_derived" / "gecko_trace_spans_v1")
    code, out, _ = run(capsys, "--fix", "--exit-non-zero-on-fix")
    assert code == 1
    assert f"wrote sql/{PROJECT}/firefox_desktop_derived/gecko_trace_spans_v1/query.sql" in out
    code, out, _ = run(capsys, "--fix", "--exit-non-zero-on-fix")
    assert code == 0
    assert "Nothing to fix" in out
