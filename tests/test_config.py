"""Configuration: flags > [tool.gecko-trace-check] > defaults, and one line + exit 2 for bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from gecko_trace_check import config
from tests.conftest import PROJECT, run


def write_pyproject(root: Path, body: str) -> Path:
    path = root / "pyproject.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults(warehouse: Path) -> None:
    cfg = config.load()
    assert cfg.target_project == PROJECT
    assert cfg.applications == config.DEFAULT_APPLICATIONS
    assert cfg.sql_dir == warehouse / "sql"
    assert cfg.sql_dir_display == "sql"
    assert (cfg.templates / "derived").is_dir()


def test_pyproject_settings_and_flags_override_them(warehouse: Path) -> None:
    write_pyproject(
        warehouse,
        '[tool.gecko-trace-check]\nsql-dir = "bigquery/sql"\ntarget-project = "my-project-1"\n'
        'applications = ["org_mozilla_focus"]\nignore-keys = ["labels.owner"]\n',
    )
    cfg = config.load()
    assert (cfg.sql_dir, cfg.sql_dir_display) == (warehouse / "bigquery/sql", "bigquery/sql")
    assert cfg.target_project == "my-project-1"
    assert cfg.applications == ("org_mozilla_focus",)
    assert cfg.ignore_keys == ("labels.owner",)

    cfg = config.load(target_project="other-project", applications=["firefox_desktop"], sql_dir="elsewhere")
    assert cfg.target_project == "other-project"
    assert cfg.applications == ("firefox_desktop",)
    assert cfg.sql_dir_display == "elsewhere"


def test_config_is_found_at_the_repository_root_from_a_subfolder(warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_pyproject(warehouse, '[tool.gecko-trace-check]\napplications = ["firefox_desktop"]\n')
    sub = warehouse / "docs" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    cfg = config.load()
    assert cfg.applications == ("firefox_desktop",)
    assert cfg.sql_dir == warehouse / "sql"
    assert cfg.sql_dir_display == "../../sql"


def test_other_tables_of_pyproject_are_ignored(warehouse: Path) -> None:
    write_pyproject(warehouse, '[project]\nname = "warehouse"\n[tool.ruff]\nline-length = 100\n')
    assert config.load().applications == config.DEFAULT_APPLICATIONS


BAD_SETTINGS = [
    ('aplications = ["firefox_desktop"]', "unknown key 'aplications' in [tool.gecko-trace-check] (did you mean 'applications'?)"),
    ('colour = "always"', "unknown key 'colour'"),
    ('applications = "firefox_desktop"', "applications in [tool.gecko-trace-check] must be a list of strings"),
    ("applications = [1, 2]", "must be a list of strings"),
    ("sql-dir = 3", "sql-dir in [tool.gecko-trace-check] must be a string"),
    ('applications = ["../x"]', "invalid application id '../x'"),
    ('applications = ["Firefox_Desktop"]', "invalid application id 'Firefox_Desktop'"),
    ('applications = ["firefox desktop"]', "invalid application id 'firefox desktop'"),
    ("applications = []", "no applications configured"),
    ('applications = ["firefox_desktop", "firefox_desktop"]', "application 'firefox_desktop' is listed twice"),
    ('target-project = "MOZ-prod"', "invalid Google Cloud project id 'MOZ-prod'"),
    ('target-project = "abc"', "invalid Google Cloud project id 'abc'"),
    ('target-project = "my-project-"', "invalid Google Cloud project id"),
    ('templates = "no/such/dir"', "not a template directory"),
]


@pytest.mark.parametrize(("setting", "message"), BAD_SETTINGS)
@pytest.mark.parametrize("command", ["check", "generate"])
def test_bad_settings_get_one_line_and_exit_2_and_nothing_is_written(
    warehouse: Path, capsys: pytest.CaptureFixture[str], setting: str, message: str, command: str
) -> None:
    write_pyproject(warehouse, f"[tool.gecko-trace-check]\n{setting}\n")
    code, out, err = run(capsys, command)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err
    if "templates" not in setting:
        assert "pyproject.toml" in err
    assert not (warehouse / "sql").exists()


def test_broken_toml_names_the_file_and_line(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pyproject(warehouse, '[project]\nname = "x"\n\n[tool.gecko-trace-check]\napplications = ["a",\n')
    code, out, err = run(capsys, "generate")
    assert code == 2
    assert err.startswith("gecko-trace-check: pyproject.toml:6: invalid TOML: Invalid value")
    write_pyproject(warehouse, '[tool.gecko-trace-check]\nsql-dir = = "x"\n')
    code, out, err = run(capsys, "generate")
    assert err.startswith("gecko-trace-check: pyproject.toml:2: invalid TOML")
    assert "invalid TOML" in err
    assert err.count("\n") == 1
    assert not (warehouse / "sql").exists()


def test_tool_table_that_is_not_a_table(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pyproject(warehouse, '[tool]\n"gecko-trace-check" = 3\n')
    code, _, err = run(capsys, "check")
    assert code == 2
    assert "[tool.gecko-trace-check] must be a table" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--app", "../etc"], "--app: invalid application id '../etc'"),
        (["--app", "UPPER"], "--app: invalid application id 'UPPER'"),
        (["--target-project", "Not_A_Project"], "--target-project: invalid Google Cloud project id"),
        (["--templates", "missing"], "missing: not a template directory"),
    ],
)
def test_bad_flags(warehouse: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    code, out, err = run(capsys, "generate", *flags)
    assert code == 2
    assert message in err
    assert not (warehouse / "sql").exists()


def test_unknown_flag_is_a_usage_error(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--fixx")
    assert code == 2
    assert "unrecognized arguments: --fixx" in err


def test_tool_that_is_not_a_table(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_pyproject(warehouse, "tool = 3\n")
    code, out, err = run(capsys, "generate")
    assert (code, out) == (2, "")
    assert "pyproject.toml: [tool] must be a table" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("pattern", ["", "a/b/c", "../x", "a//b", "*_derived/.."])
def test_invalid_owned_patterns(warehouse: Path, capsys: pytest.CaptureFixture[str], pattern: str) -> None:
    write_pyproject(warehouse, f'[tool.gecko-trace-check]\nowned = ["{pattern}"]\n')
    code, _, err = run(capsys, "check")
    assert code == 2
    assert f"invalid owned pattern '{pattern}'" in err


def test_owned_patterns_are_read(warehouse: Path) -> None:
    write_pyproject(warehouse, '[tool.gecko-trace-check]\nowned = ["firefox_*_derived/gecko_trace_*", "gecko_trace_aggregates"]\n')
    assert config.load().owned == ("firefox_*_derived/gecko_trace_*", "gecko_trace_aggregates")
    write_pyproject(warehouse, "")
    assert config.load().owned == ("*_derived/gecko_trace_*", "gecko_trace_aggregates")


def test_pyproject_that_is_not_utf8(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (warehouse / "pyproject.toml").write_bytes(b'[tool.gecko-trace-check]\nsql-dir = "\xff"\n')
    code, out, err = run(capsys, "check")
    assert (code, out) == (2, "")
    assert err == "gecko-trace-check: pyproject.toml: not UTF-8 (byte 36)\n"
