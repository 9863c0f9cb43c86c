"""The drift engine through the CLI: statuses, the report, JSON, --fix, exit codes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests import conftest
from tests.conftest import PROJECT

ROOT = Path(__file__).resolve().parent.parent
TRACES = "firefox_desktop_derived/gecko_trace_traces_v1"
SPANS = "firefox_desktop_derived/gecko_trace_spans_v1"
KEYWORDS = re.compile(r"\b(select|from|where|group by|order by|as|and|with|union all|create or replace view|cross join|unnest|is not null)\b", re.I)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The check without the lint, whose findings have their own tests; generate as is."""
    if argv and argv[0] == "generate":
        return conftest.run(capsys, *argv)
    return conftest.run(capsys, *argv, "--no-lint")


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


def edit_yaml(path: Path, change) -> None:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def statuses(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, str]:
    code, out, err = run(capsys, "--format", "json", *argv)
    assert code in (0, 1), err
    return {entry["path"]: entry["status"] for entry in json.loads(out)["files"]}


# --- in sync and the JSON contract -------------------------------------------------


def test_in_sync_tree_exits_0(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0, err
    assert out == "In sync: 13 objects, 37 files.\n"


def test_json_document_follows_the_design(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (generated / TRACES / "schema.yaml").unlink()
    code, out, _ = run(capsys, "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert set(document) == {"version", "sql_dir", "target_project", "applications", "summary", "files", "findings"}
    assert document["version"] == 1
    assert document["sql_dir"] == "sql"
    assert document["target_project"] == PROJECT
    assert document["applications"] == ["firefox_desktop", "org_mozilla_fenix_nightly", "org_mozilla_firefox_beta"]
    assert document["summary"] == {"in_sync": 36, "format_only": 0, "stale": 0, "missing": 1, "orphaned": 0}
    assert len(document["files"]) == 37
    for entry in document["files"]:
        assert set(entry) == {"path", "status", "object", "object_type", "role", "changes"}
        assert entry["path"].startswith(f"sql/{PROJECT}/")
    missing = next(entry for entry in document["files"] if entry["status"] == "missing")
    assert missing == {
        "path": f"sql/{PROJECT}/{TRACES}/schema.yaml",
        "status": "missing",
        "object": "firefox_desktop_derived.gecko_trace_traces_v1",
        "object_type": "table",
        "role": "schema.yaml",
        "changes": ["schema.yaml: missing"],
    }
    kinds = {(entry["object"], entry["object_type"]) for entry in document["files"]}
    assert ("gecko_trace_aggregates.spans", "view") in kinds
    assert ("gecko_trace_aggregates", "dataset") in kinds


def test_paths_follow_the_sql_dir_as_typed(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "generate", "--output-dir", "bq/sql/")[0] == 0
    files = statuses(capsys, "--sql-dir", "bq/sql/")
    assert all(path.startswith(f"bq/sql/{PROJECT}/") for path in files)


# --- formatting is not drift ----------------------------------------------------------


def flip_keywords(text: str) -> str:
    return KEYWORDS.sub(lambda m: m.group(0).lower() if m.group(0).isupper() else m.group(0).upper(), text)


def reindent(text: str) -> str:
    return "\n".join("\t" + line.lstrip() if line.startswith("  ") else line for line in text.splitlines()) + "\n"


def join_lines(text: str) -> str:
    """Move line breaks: pull each clause's first item up onto the keyword's line."""
    return re.sub(r"^(SELECT|FROM|WHERE|GROUP BY)\n\s+", r"\1 ", text, flags=re.M)


def recomment(text: str) -> str:
    without = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return "/* reformatted by the warehouse */\n" + without.replace("\nFROM", "\nFROM -- the source\n", 1)


FORMATTERS = {
    "keyword case": flip_keywords,
    "indentation": reindent,
    "line breaks": join_lines,
    "crlf": lambda text: text.replace("\n", "\r\n"),
    "trailing newlines": lambda text: text.rstrip("\n") + "\n\n\n",
    "no trailing newline": lambda text: text.rstrip("\n"),
    "comments": recomment,
    "all at once": lambda text: recomment(join_lines(reindent(flip_keywords(text)))).replace("\n", "\r\n"),
}


@pytest.mark.parametrize("formatter", FORMATTERS)
def test_reformatted_sql_is_format_only(generated: Path, capsys: pytest.CaptureFixture[str], formatter: str) -> None:
    sql_files = sorted(generated.rglob("*.sql"))
    for path in sql_files:
        path.write_bytes(FORMATTERS[formatter](path.read_text()).encode())
    found = statuses(capsys)
    sql_statuses = [found[f"sql/{path.relative_to(generated.parent).as_posix()}"] for path in sql_files]
    assert set(sql_statuses) <= {"format_only", "in_sync"}
    reformatted = sql_statuses.count("format_only")
    assert reformatted >= 3
    code, out, _ = run(capsys)
    assert code == 0
    assert f"{reformatted} files differ only in formatting (not drift)" in out
    assert run(capsys, "--strict")[0] == 1


def redump(path: Path, **options) -> None:
    path.write_text("# reformatted\n" + yaml.safe_dump(yaml.safe_load(path.read_text()), **options))


@pytest.mark.parametrize(
    "options",
    [
        {"sort_keys": True},
        {"sort_keys": False, "indent": 4, "default_flow_style": True},
        {"sort_keys": True, "default_style": '"'},
        {"sort_keys": False, "width": 20, "explicit_start": True},
    ],
)
def test_redumped_yaml_is_format_only(generated: Path, capsys: pytest.CaptureFixture[str], options: dict) -> None:
    for path in generated.rglob("*.yaml"):
        redump(path, **options)
    found = statuses(capsys)
    assert {status for path, status in found.items() if path.endswith(".yaml")} == {"format_only"}
    code, out, _ = run(capsys)
    assert code == 0
    assert out == "  25 files differ only in formatting (not drift)\n\nIn sync: 13 objects, 37 files.\n"


# --- semantic changes are drift ---------------------------------------------------------

SQL_MUTATIONS = [
    # (file, committed text, edited to, described as: the committed file -> the render)
    (f"{TRACES}/query.sql", "MIN(start_time_unix_nano)", "MAX(start_time_unix_nano)", "line 8: MAX -> MIN"),
    (f"{TRACES}/query.sql", "duration_nano,", "duration_ns,", "duration_ns -> duration_nano"),
    (f"{TRACES}/query.sql", "trace_id IS NOT NULL", "trace_id IS NULL", "NOT added"),
    (f"{SPANS}/query.sql", "'$.resource_spans'", "'$.resourceSpans'", "$.resourceSpans -> $.resource_spans"),
    (f"{SPANS}/query.sql", "= @submission_date", "<= @submission_date", "<= -> ="),
    ("gecko_trace_aggregates/spans/view.sql", "UNION ALL", "UNION DISTINCT", "DISTINCT -> ALL"),
    ("gecko_trace_aggregates/spans/view.sql", '"firefox_desktop"', '"firefox"', "firefox -> firefox_desktop"),
    (
        "gecko_trace_aggregates/spans/view.sql",
        "`moz-fx-data-shared-prod.firefox_desktop_derived",
        "`moz-fx-data-shared-prod.firefox_desktop_Derived",
        "...firefox_desktop_Derived.gecko_trace_spans_v1 -> ...firefox_desktop_derived.gecko_trace_spans_v1",
    ),
]


@pytest.mark.parametrize(("path", "old", "new", "described"), SQL_MUTATIONS)
def test_sql_semantic_change_is_stale_and_named(
    generated: Path, capsys: pytest.CaptureFixture[str], path: str, old: str, new: str, described: str
) -> None:
    edit(generated / path, old, new)
    found = statuses(capsys)
    stale = [p for p, status in found.items() if status != "in_sync"]
    assert stale == [f"sql/{PROJECT}/{path}"]
    assert found[stale[0]] == "stale"
    code, out, _ = run(capsys)
    assert code == 1
    assert described in out
    assert out.splitlines()[1].endswith("changed")
    diff = [line.strip() for line in out.splitlines() if line.startswith("      ")]
    assert any(line.startswith("-") and new.strip() in line for line in diff)
    assert any(line.startswith("+") and old.strip() in line for line in diff)


def test_short_diff_and_full_diff(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = generated / SPANS / "query.sql"
    path.write_text(path.read_text().replace("JSON_VALUE", "JSON_EXTRACT_SCALAR"))
    _, short, _ = run(capsys)
    _, full, _ = run(capsys, "--diff")
    assert "more diff lines (--diff shows all)" in short
    assert "more diff lines" not in full
    assert full.count("+  ") > short.count("+  ")
    assert "@@" in short


def test_design_example_report(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A changed schema type, a missing application table and an orphaned one."""
    edit_yaml(generated / TRACES / "schema.yaml", lambda d: d["fields"][-1].update(type="BYTES"))
    edit_yaml(generated / TRACES / "metadata.yaml", lambda d: d["bigquery"]["clustering"].update(fields=["trace_id"]))
    shutil.rmtree(generated / "org_mozilla_firefox_beta_derived/gecko_trace_spans_v1")
    shutil.copytree(generated / SPANS, generated / "org_mozilla_fenix_derived/gecko_trace_spans_v1")
    edit(generated / "gecko_trace_aggregates/spans/view.sql", "UNION ALL", "UNION DISTINCT")
    code, out, _ = run(capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "~ table firefox_desktop_derived.gecko_trace_traces_v1"
    assert lines[1] == "    metadata.yaml: bigquery.clustering.fields: [trace_id] -> [signature, trace_id]"
    assert lines[2] == "    schema.yaml: field signature: type BYTES -> STRING"
    assert "+ table org_mozilla_firefox_beta_derived.gecko_trace_spans_v1   missing: metadata.yaml, query.sql, schema.yaml" in lines
    assert "- table org_mozilla_fenix_derived.gecko_trace_spans_v1          no longer generated: 3 files (metadata.yaml, query.sql, schema.yaml)" in lines
    assert "~ view  gecko_trace_aggregates.spans" in lines
    assert "    view.sql: view changed" in lines
    assert lines[-2] == "Drift in 4 objects: 2 changed, 1 missing, 1 orphaned; 10 in sync."
    assert lines[-1] == "Run `gecko-trace-check --fix` to rewrite 6 files and delete 3."


SCHEMA_CHANGES = [
    (lambda f: f.append({"name": "duration_ms", "type": "INT64", "mode": "NULLABLE"}), "field duration_ms removed"),
    (lambda f: f.pop(), "field signature added (STRING, NULLABLE)"),
    (lambda f: f[-1].update(mode="REQUIRED"), "field signature: mode REQUIRED -> NULLABLE"),
    (lambda f: f[-1].update(description="old words"), 'field signature: description old words -> '),
    (lambda f: f[-1].pop("description"), "field signature: description added ("),
    (lambda f: f.insert(0, f.pop(1)), "fields reordered: [trace_id, submission_date, "),
]


@pytest.mark.parametrize(("change", "described"), SCHEMA_CHANGES)
def test_schema_changes_by_field_name(generated: Path, capsys: pytest.CaptureFixture[str], change, described: str) -> None:
    edit_yaml(generated / TRACES / "schema.yaml", lambda d: change(d["fields"]))
    code, out, _ = run(capsys)
    assert code == 1
    assert f"    schema.yaml: {described}" in out


def test_nested_record_fields_are_matched_by_name(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = warehouse / "templates"
    shutil.copytree(ROOT / "templates", templates)
    schema = templates / "derived/gecko_trace_spans_v1/schema.yaml"
    record = "  - name: client\n    type: RECORD\n    mode: NULLABLE\n    fields:\n      - name: os\n        type: STRING\n      - name: version\n        type: INT64\n"
    schema.write_text(schema.read_text().rstrip("\n") + "\n" + record)
    assert run(capsys, "generate", "--templates", "templates", "--app", "firefox_desktop")[0] == 0
    committed = warehouse / "sql" / PROJECT / SPANS / "schema.yaml"
    committed.write_text(committed.read_text().replace("type: INT64\n", "type: STRING\n").replace("      - name: os\n        type: STRING\n", ""))
    code, out, _ = run(capsys, "--templates", "templates", "--app", "firefox_desktop")
    assert code == 1
    assert "schema.yaml: field client.os added (STRING)" in out
    assert "schema.yaml: field client.version: type STRING -> INT64" in out


def test_metadata_key_paths_and_ignore_keys(generated: Path, capsys: pytest.CaptureFixture[str], warehouse: Path) -> None:
    def change(document: dict) -> None:
        document["bigquery"]["time_partitioning"]["expiration_days"] = 775
        document["labels"]["owner1"] = "someone"
        document["scheduling"]["dag_name"] = "bqetl_other"

    edit_yaml(generated / TRACES / "metadata.yaml", change)
    _, out, _ = run(capsys)
    assert "metadata.yaml: bigquery.time_partitioning.expiration_days: removed (was 775)" in out
    assert "metadata.yaml: labels.owner1: removed (was someone)" in out
    assert "metadata.yaml: scheduling.dag_name: bqetl_other -> bqetl_gecko_trace" in out
    _, out, _ = run(capsys, "--ignore-key", "bigquery.time_partitioning.expiration_days", "--ignore-key", "labels.owner1")
    assert "expiration_days:" not in out and "owner1:" not in out
    assert "scheduling.dag_name" in out
    (warehouse / "pyproject.toml").write_text('[tool.gecko-trace-check]\nignore-keys = ["scheduling.dag_name", "labels.owner1"]\n')
    _, out, _ = run(capsys, "--ignore-key", "bigquery.time_partitioning.expiration_days")
    assert out == "  1 file differs only in formatting (not drift)\n\nIn sync: 13 objects, 37 files.\n"


def test_invalid_committed_files_are_stale_and_fixable(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (generated / TRACES / "query.sql").write_bytes(b"SELECT '\xff\xfe'\n")
    (generated / TRACES / "metadata.yaml").write_text("friendly_name: [unclosed\nlabels: {}\n")
    (generated / SPANS / "query.sql").write_text("SELECT 'unterminated\n")
    code, out, _ = run(capsys)
    assert code == 1
    assert "query.sql: not valid UTF-8 (byte 8)" in out
    assert "metadata.yaml: not valid YAML at line 2" in out
    assert "query.sql: not valid BigQuery SQL" in out
    assert run(capsys, "--fix")[0] == 0
    assert run(capsys)[0] == 0


# --- orphans and ownership --------------------------------------------------------------


def test_removed_application_leaves_orphans(generated: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (warehouse / "pyproject.toml").write_text('[tool.gecko-trace-check]\napplications = ["firefox_desktop", "org_mozilla_fenix_nightly"]\n')
    found = statuses(capsys)
    orphans = sorted(p for p, s in found.items() if s == "orphaned")
    assert len(orphans) == 9
    assert all("/org_mozilla_firefox_beta_derived/gecko_trace_" in p for p in orphans)
    # the views no longer read the removed application
    assert found[f"sql/{PROJECT}/gecko_trace_aggregates/spans/view.sql"] == "stale"


def test_removed_template_and_renamed_query_leave_orphans(generated: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = warehouse / "templates"
    shutil.copytree(ROOT / "templates", templates)
    shutil.rmtree(templates / "derived/gecko_trace_signatures_v1")
    (templates / "derived/gecko_trace_spans_v1/query.sql").rename(templates / "derived/gecko_trace_spans_v1/script.sql")
    found = statuses(capsys, "--templates", "templates")
    by_status: dict[str, list[str]] = {}
    for path, status in found.items():
        by_status.setdefault(status, []).append(path.removeprefix(f"sql/{PROJECT}/"))
    assert sorted(by_status["missing"]) == sorted(f"{app}_derived/gecko_trace_spans_v1/script.sql" for app in ("firefox_desktop", "org_mozilla_fenix_nightly", "org_mozilla_firefox_beta"))
    orphans = sorted(by_status["orphaned"])
    assert len(orphans) == 12
    assert sum(path.endswith("gecko_trace_spans_v1/query.sql") for path in orphans) == 3
    assert sum("gecko_trace_signatures_v1/" in path for path in orphans) == 9


def test_unowned_files_are_never_touched(generated: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unowned = {
        generated / SPANS / "checks.sql": b"-- hand-written checks\n",
        generated / SPANS / "bigconfig.yml": b"monitors: []\n",
        generated / "org_mozilla_fenix_derived/gecko_trace_spans_v1/checks.sql": b"-- kept with its orphaned table\n",
        generated / "org_mozilla_fenix_derived/other_table_v1/query.sql": b"SELECT 1\n",
        generated / "firefox_desktop_derived/clients_v1/metadata.yaml": b"friendly_name: not ours\n",
        warehouse / "sql/other-project/gecko_trace_aggregates/spans/view.sql": b"SELECT 2\n",
    }
    for path, content in unowned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    shutil.copy(generated / SPANS / "query.sql", generated / "org_mozilla_fenix_derived/gecko_trace_spans_v1/query.sql")
    code, out, _ = run(capsys, "--fix")
    assert code == 0
    assert out.splitlines() == [f"deleted sql/{PROJECT}/org_mozilla_fenix_derived/gecko_trace_spans_v1/query.sql", "Fixed: wrote 0, deleted 1; the tree is in sync."]
    for path, content in unowned.items():
        assert path.read_bytes() == content, path


# --- --fix ------------------------------------------------------------------------------


def drift_everything(generated: Path) -> None:
    edit_yaml(generated / TRACES / "schema.yaml", lambda d: d["fields"].pop())
    edit(generated / TRACES / "query.sql", "MIN(", "MAX(")
    shutil.rmtree(generated / "org_mozilla_firefox_beta_derived")
    shutil.copytree(generated / SPANS, generated / "org_mozilla_fenix_derived/gecko_trace_spans_v1")
    (generated / "gecko_trace_aggregates/old_view").mkdir()
    (generated / "gecko_trace_aggregates/old_view/view.sql").write_text("SELECT 1\n")
    path = generated / SPANS / "query.sql"
    path.write_text(flip_keywords(path.read_text()))


def test_fix_repairs_everything_and_a_second_fix_changes_nothing(generated: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drift_everything(generated)
    formatted = (generated / SPANS / "query.sql").read_bytes()
    code, out, _ = run(capsys, "--fix")
    assert code == 0
    changed = out.splitlines()
    assert f"wrote sql/{PROJECT}/{TRACES}/schema.yaml" in changed
    assert f"deleted sql/{PROJECT}/gecko_trace_aggregates/old_view/view.sql" in changed
    assert changed[-1] == "Fixed: wrote 11, deleted 4; the tree is in sync."
    assert not (generated / "gecko_trace_aggregates/old_view").exists()
    assert not (generated / "org_mozilla_fenix_derived/gecko_trace_spans_v1").exists()
    assert (generated / SPANS / "query.sql").read_bytes() == formatted  # the formatter's, left alone
    assert not list(warehouse.rglob("*.tmp"))
    assert run(capsys)[0] == 0
    before = snapshot(warehouse)
    code, out, _ = run(capsys, "--fix")
    assert (code, out) == (0, "Nothing to fix: the tree is in sync.\n")
    assert snapshot(warehouse) == before


def test_strict_fix_rewrites_format_only_files(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = generated / SPANS / "query.sql"
    original = path.read_bytes()
    path.write_text(flip_keywords(path.read_text()))
    assert run(capsys, "--fix", "--strict")[0] == 0
    assert path.read_bytes() == original
    assert run(capsys, "--strict")[0] == 0


def test_missing_sql_dir_is_all_missing_and_fix_creates_it(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = statuses(capsys)
    assert len(found) == 37 and set(found.values()) == {"missing"}
    code, out, _ = run(capsys)
    assert code == 1
    assert "Run `gecko-trace-check --fix` to write 37 files." in out
    assert run(capsys, "--fix")[0] == 0
    assert run(capsys)[0] == 0


def test_fix_command_repeats_the_users_flags(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--sql-dir", "my sql", "--app", "firefox_desktop", "--ignore-key", "labels.x")
    assert "Run `gecko-trace-check --fix --sql-dir 'my sql' --app firefox_desktop --ignore-key labels.x` to write 19 files." in out


def test_fix_with_json_keeps_stdout_machine_readable(generated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (generated / TRACES / "schema.yaml").unlink()
    code, out, err = run(capsys, "--fix", "--format", "json")
    assert code == 0
    assert json.loads(out)["summary"]["missing"] == 1
    assert f"wrote sql/{PROJECT}/{TRACES}/schema.yaml" in err


# --- colour -----------------------------------------------------------------------------


def test_colour_only_when_asked_or_on_a_terminal(generated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (generated / TRACES / "schema.yaml").unlink()
    _, plain, _ = run(capsys)
    assert "\x1b[" not in plain
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, forced, _ = run(capsys)
    assert "\x1b[32m+\x1b[0m" in forced or "\x1b[33m~\x1b[0m" in forced
    monkeypatch.setenv("NO_COLOR", "1")
    _, none, _ = run(capsys)
    assert "\x1b[" not in none


def test_owned_patterns_keep_another_teams_gecko_trace_table(generated: Path, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    foreign = generated / "telemetry_derived/gecko_trace_crash_pings_v1/query.sql"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("SELECT 'not generated'\n")
    assert statuses(capsys)[f"sql/{PROJECT}/telemetry_derived/gecko_trace_crash_pings_v1/query.sql"] == "orphaned"
    # By default every *_derived dataset's gecko_trace_* tables are the generator's; narrow it:
    (warehouse / "pyproject.toml").write_text(
        '[tool.gecko-trace-check]\nowned = ["firefox_desktop_derived/gecko_trace_*", "org_mozilla_*_derived/gecko_trace_*", "gecko_trace_aggregates"]\n'
    )
    assert run(capsys)[0] == 0
    assert run(capsys, "--fix")[0] == 0
    assert foreign.read_text() == "SELECT 'not generated'\n"


def test_formatter_spellings_of_the_same_sql_are_format_only(warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Optional AS, SAFE. prefixes in any case, and split or joined backticked table paths."""
    templates = warehouse / "templates"
    shutil.copytree(ROOT / "templates", templates)
    query = templates / "derived/gecko_trace_signatures_v1/query.sql"
    query.write_text("SELECT\n  SAFE.PARSE_DATE('%F', '2024-01-01') AS day,\n  t.signature AS signature\nFROM\n  `{{ target_project }}.{{ app_id }}_derived.gecko_trace_traces_v1` AS t")
    assert run(capsys, "generate", "--templates", "templates", "--app", "firefox_desktop")[0] == 0
    committed = warehouse / "sql" / PROJECT / "firefox_desktop_derived/gecko_trace_signatures_v1/query.sql"
    committed.write_text(
        "select safe.parse_date('%F', '2024-01-01') day, t.signature signature\n"
        "from `moz-fx-data-shared-prod`.`firefox_desktop_derived`.`gecko_trace_traces_v1` t\n"
    )
    code, out, _ = run(capsys, "--templates", "templates", "--app", "firefox_desktop")
    assert code == 0, out
    assert "1 file differs only in formatting" in out
    committed.write_text(committed.read_text().replace("t.signature signature", "t.signature sig"))
    code, out, _ = run(capsys, "--templates", "templates", "--app", "firefox_desktop")
    assert code == 1
    assert "sig -> signature" in out
