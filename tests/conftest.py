"""Shared fixtures: tests build their own warehouse trees from the shipped templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from gecko_trace_check.cli import main

PROJECT = "moz-fx-data-shared-prod"


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour and no CI side effects unless a test asks for them."""
    for name in ("FORCE_COLOR", "NO_COLOR", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _lint_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The lint cache of each test in its own folder: never the user's, never shared."""
    folder = tmp_path_factory.mktemp("lint-cache")
    monkeypatch.setenv("GECKO_TRACE_CHECK_CACHE", str(folder))
    return folder


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty warehouse repository (a folder with .git), the current directory."""
    root = tmp_path / "warehouse"
    (root / ".git").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def generated(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A warehouse whose sql/ tree was just generated on the defaults: in sync."""
    assert main(["generate"]) == 0
    capsys.readouterr()
    return warehouse / "sql" / PROJECT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` -> (exit code, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err
