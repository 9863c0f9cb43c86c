"""Broken and hostile input: one clear line, a defined exit code, nothing written or lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gecko_trace_check import fix
from tests import conftest
from tests.conftest import PROJECT

ROOT = Path(__file__).resolve().parent.parent
TRACES = "firefox_desktop_derived/gecko_trace_traces_v1"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    if argv and argv[0] in ("generate", "lint"):
        return conftest.run(capsys, *argv)
    return conftest.run(capsys, *argv, "--no-lint")


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file's bytes and every link's target below root (links are not followed)."""
    state: dict[str, bytes | str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            key = path.relative_to(root).as_posix()
            if path.is_symlink():
                state[key] = "link -> " + os.readlink(path)
            elif path.is_file():
                state[key] = path.read_bytes()
    return state


def assert_one_line_error(code: int, out: str, err: str, *parts: str) -> None:
    assert code == 2, (out, err)
    assert err.count("\n") == 1, err
    assert err.startswith("gecko-trace-check: ")
    assert "Traceback" not in err
    for part in parts:
        assert part in err, err


def copy_templates(warehouse: Path) -> Path:
    templates = warehouse / "templates"
    shutil.copytree(ROOT / "templates", templates)
    return templates


# --- templates ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "generate", "check --fix"])
def test_template_rendering_invalid_yaml(generated: Path, warehouse: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    templates = copy_templates(warehouse)
    metadata = templates / "derived/gecko_trace_spans_v1/metadata.yaml"
    metadata.write_text(metadata.read_text().replace("labels:\n", "labels: [\n", 1))
    before = snapshot(warehouse / "sql")
    code, out, err = run(capsys, *command.split(), "--templates", "templates")
    assert_one_line_error(code, out, err, f"{metadata.relative_to(warehouse)}:", "renders to invalid YAML")
    assert snapshot(warehouse / "sql") == before


def test_malformed_copied_schema_names_template_and_line(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = copy_templates(warehouse)
    schema = templates / "aggregates/spans/schema.yaml"
    schema.write_text("fields:\n  - name: application\n    type: STRING\n   mode: bad indent\n")
    code, out, err = run(capsys, "generate", "--templates", "templates")
    assert_one_line_error(code, out, err, "templates/aggregates/spans/schema.yaml:4: renders to invalid YAML")
    assert not (warehouse / "sql").exists()


# --- the committed tree -------------------------------------------------------------------


def test_folder_where_a_generated_file_belongs(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = generated / TRACES / "query.sql"
    target.unlink()
    target.mkdir()
    (target / "inside.sql").write_text("SELECT 1\n")
    before = snapshot(generated)
    for argv in ((), ("--fix",)):
        code, out, err = run(capsys, *argv)
        assert_one_line_error(code, out, err, f"sql/{PROJECT}/{TRACES}/query.sql: is a folder where the generator writes a file")
        assert snapshot(generated) == before


def test_file_where_a_generated_folder_belongs(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = generated / TRACES
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")
    code, out, err = run(capsys)
    assert_one_line_error(code, out, err, f"sql/{PROJECT}/{TRACES}: is a file where the generator needs a folder")


@pytest.mark.parametrize("link", ["object", "dataset", "file"])
def test_links_leading_out_of_the_tree_are_never_followed(
    generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "query.sql"
    victim.write_text("-- somebody else's file\n")
    if link == "object":
        shutil.rmtree(generated / TRACES)
        (generated / TRACES).symlink_to(outside, target_is_directory=True)
        shown = f"sql/{PROJECT}/{TRACES}"
    elif link == "dataset":
        shutil.rmtree(generated / "gecko_trace_aggregates")
        (generated / "gecko_trace_aggregates").symlink_to(outside, target_is_directory=True)
        shown = f"sql/{PROJECT}/gecko_trace_aggregates"
    else:
        (generated / TRACES / "query.sql").unlink()
        (generated / TRACES / "query.sql").symlink_to(victim)
        shown = f"sql/{PROJECT}/{TRACES}/query.sql"
    before_outside, before_tree = snapshot(outside), snapshot(generated)
    for argv in ((), ("--fix",), ("--fix", "--strict")):
        code, out, err = run(capsys, *argv)
        assert_one_line_error(code, out, err, shown, "leads out of the sql tree", "refusing to read or write through a link")
        assert snapshot(outside) == before_outside
        assert snapshot(generated) == before_tree


def test_links_inside_the_tree_are_fine(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = generated.parent / "shared-copy"
    shutil.copytree(generated / TRACES, shared)
    shutil.rmtree(generated / TRACES)
    (generated / TRACES).symlink_to(shared, target_is_directory=True)
    assert run(capsys)[0] == 0


def test_unreadable_committed_file(generated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root in CI, where chmod cannot make a file unreadable: fail the read itself.
    target = generated / TRACES / "schema.yaml"
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code, out, err = run(capsys)
    assert_one_line_error(code, out, err, f"sql/{PROJECT}/{TRACES}/schema.yaml: cannot read: Permission denied")


def test_read_only_folder_under_fix(generated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (generated / TRACES / "schema.yaml").unlink()
    (generated / TRACES / "query.sql").write_text("SELECT 1\n")
    folder = generated / TRACES
    real_mkstemp = fix.tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own name
        if Path(dir) == folder:
            raise PermissionError(13, "Permission denied", str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(fix.tempfile, "mkstemp", mkstemp)
    before = snapshot(generated)
    code, out, err = run(capsys, "--fix")
    assert_one_line_error(code, out, err, f"sql/{PROJECT}/{TRACES}/", "cannot write: Permission denied", "stopped after 0 of 2 changes")
    assert out == ""
    assert snapshot(generated) == before


# --- all or nothing per file --------------------------------------------------------------


@pytest.mark.parametrize("fail_at", [1, 3, 6])
def test_failed_replace_leaves_each_file_wholly_old_or_new(
    generated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    pristine = snapshot(generated)
    stale = sorted(p for p in pristine if p.endswith((".sql", ".yaml")) and "firefox_desktop" in p)
    for relpath in stale:
        (generated / relpath).write_bytes(b"-- stale\n" if relpath.endswith(".sql") else b"stale: true\n")
    drifted = snapshot(generated)

    calls = {"count": 0}
    real_replace = os.replace

    def replace(src, dst):
        calls["count"] += 1
        if calls["count"] == fail_at:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(fix.os, "replace", replace)
    code, out, err = run(capsys, "--fix")
    assert_one_line_error(code, out, err, "cannot write: No space left on device", f"stopped after {fail_at - 1} of {len(stale)} changes")
    assert len(out.splitlines()) == fail_at - 1  # each change that landed was printed
    now = snapshot(generated)
    assert set(now) == set(pristine)  # no temporary files left behind
    for relpath in stale:
        assert now[relpath] in (pristine[relpath], drifted[relpath])
    assert sum(now[p] == pristine[p] for p in stale) == fail_at - 1

    monkeypatch.setattr(fix.os, "replace", real_replace)
    assert run(capsys, "--fix")[0] == 0
    assert snapshot(generated) == pristine


def test_write_atomically_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "query.sql"
    target.write_text("old\n")
    target.chmod(0o640)
    fix.write_atomically(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["query.sql"]


# --- stdout closed early ------------------------------------------------------------------


def test_reader_leaving_early_is_not_a_traceback(warehouse: Path) -> None:
    import subprocess
    import sys

    # Far more than a pipe buffer of JSON, so the writer really meets a closed pipe.
    apps = " ".join(f"--app app_{n}" for n in range(200))
    process = subprocess.run(
        f"{sys.executable} -m gecko_trace_check --format json --no-lint {apps} | head -c 100",
        shell=True,
        capture_output=True,
        text=True,
        cwd=warehouse,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout.startswith("{")
    assert "Traceback" not in process.stderr
    assert "BrokenPipe" not in process.stderr


# --- generate -----------------------------------------------------------------------------


def test_generate_refuses_a_folder_in_the_way_before_writing_anything(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (warehouse / f"sql/{PROJECT}/gecko_trace_aggregates/spans/view.sql").mkdir(parents=True)
    code, out, err = run(capsys, "generate")
    assert_one_line_error(code, out, err, f"sql/{PROJECT}/gecko_trace_aggregates/spans/view.sql: is a folder where the generator writes a file")
    assert [p for p in (warehouse / "sql").rglob("*") if p.is_file()] == []


def test_generate_into_a_file(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (warehouse / "out").write_text("not a folder\n")
    code, out, err = run(capsys, "generate", "--output-dir", "out")
    assert_one_line_error(code, out, err, "out: is a file where the sql folder should be")
    assert (warehouse / "out").read_text() == "not a folder\n"


def test_generate_refuses_a_link_out_of_the_tree(warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (warehouse / f"sql/{PROJECT}").mkdir(parents=True)
    (warehouse / f"sql/{PROJECT}/gecko_trace_aggregates").symlink_to(outside, target_is_directory=True)
    code, out, err = run(capsys, "generate")
    assert_one_line_error(code, out, err, "leads out of the sql tree")
    assert list(outside.iterdir()) == []
    assert [p for p in (warehouse / "sql").rglob("*") if p.is_file()] == []


def test_a_linked_dataset_the_tool_does_not_own_is_harmless(generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "clients_v1").mkdir(parents=True)
    (elsewhere / "clients_v1/query.sql").write_text("SELECT 1\n")
    (generated / "telemetry_derived").symlink_to(elsewhere, target_is_directory=True)
    assert run(capsys)[0] == 0
    assert run(capsys, "--fix")[0] == 0
    # ... until it holds an object the tool would own: then it refuses, and touches nothing.
    (elsewhere / "gecko_trace_spans_v1").mkdir()
    (elsewhere / "gecko_trace_spans_v1/query.sql").write_text("SELECT 2\n")
    code, out, err = run(capsys, "--fix")
    assert_one_line_error(code, out, err, f"sql/{PROJECT}/telemetry_derived/gecko_trace_spans_v1: leads out of the sql tree")
    assert (elsewhere / "gecko_trace_spans_v1/query.sql").read_text() == "SELECT 2\n"


def test_exit_code_survives_a_reader_that_leaves_early(generated: Path) -> None:
    import subprocess
    import sys

    process = subprocess.run(
        [sys.executable, "-c", "import subprocess, sys; p = subprocess.Popen([sys.executable, '-m', 'gecko_trace_check', '--no-lint'], stdout=subprocess.PIPE); p.stdout.close(); sys.exit(p.wait())"],
        capture_output=True,
        text=True,
        cwd=generated.parent.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr


# --- duplicate YAML keys ------------------------------------------------------------------


def test_duplicate_key_in_a_committed_file_is_stale_with_its_line(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metadata = generated / TRACES / "metadata.yaml"
    metadata.write_text(metadata.read_text() + "labels:\n  incremental: false\n")
    line = metadata.read_text().splitlines().index("labels:", metadata.read_text().splitlines().index("labels:") + 1) + 1
    code, out, _ = run(capsys)
    assert code == 1
    assert f"metadata.yaml: not valid YAML at line {line} (duplicate key 'labels')" in out
    assert run(capsys, "--fix")[0] == 0
    assert run(capsys)[0] == 0


def test_duplicate_key_in_a_template_is_an_error(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = copy_templates(warehouse)
    schema = templates / "derived/gecko_trace_traces_v1/schema.yaml"
    schema.write_text("fields: []\nfields:\n  - name: x\n")
    code, out, err = run(capsys, "generate", "--templates", "templates")
    assert_one_line_error(code, out, err, "templates/derived/gecko_trace_traces_v1/schema.yaml:2: renders to invalid YAML: duplicate key 'fields'")
