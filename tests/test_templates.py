"""The shipped templates are consistent: every file of a render parses, the queries'
columns are their schemas, metadata points at real columns, the views cover every
application, and nothing in them is tied to one project or application."""

from __future__ import annotations

import re

import pytest
import sqlglot
import yaml
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from gecko_trace_check.render import render, default_templates

PROJECT = "moz-fx-data-shared-prod"
APPS = ("firefox_desktop", "org_mozilla_fenix_nightly", "org_mozilla_firefox_beta")
TABLES = ("gecko_trace_spans_v1", "gecko_trace_traces_v1", "gecko_trace_signatures_v1")
VIEWS = {"spans": "gecko_trace_spans_v1", "traces": "gecko_trace_traces_v1", "signatures": "gecko_trace_signatures_v1"}
AGGREGATES = "gecko_trace_aggregates"

# What each derived query reads: its source table, relative to (project, app_id).
SOURCES = {
    "gecko_trace_spans_v1": "{project}.{app}.gecko_trace",
    "gecko_trace_traces_v1": "{project}.{app}_derived.gecko_trace_spans_v1",
    "gecko_trace_signatures_v1": "{project}.{app}_derived.gecko_trace_traces_v1",
}
# The columns of the raw Glean ping table the spans query may read.
PING_COLUMNS = {
    "submission_timestamp": "TIMESTAMP",
    "document_id": "STRING",
    "metrics": "STRUCT<object STRUCT<gecko_trace_traces_data JSON>>",
}
BIGQUERY_TYPES = {"DATE", "TIMESTAMP", "STRING", "INT64", "FLOAT64", "NUMERIC", "BOOL", "BYTES", "JSON", "RECORD"}


def _render(project: str = PROJECT, apps: tuple[str, ...] = APPS) -> dict:
    return {rendered.path: rendered for rendered in render(default_templates(), project, apps)}


@pytest.fixture(scope="module")
def files() -> dict:
    return _render()


def expected_paths(project: str, apps: tuple[str, ...]) -> set[str]:
    paths = {f"{project}/{AGGREGATES}/dataset_metadata.yaml"}
    for app in apps:
        for table in TABLES:
            for role in ("query.sql", "metadata.yaml", "schema.yaml"):
                paths.add(f"{project}/{app}_derived/{table}/{role}")
    for view in VIEWS:
        for role in ("view.sql", "metadata.yaml", "schema.yaml"):
            paths.add(f"{project}/{AGGREGATES}/{view}/{role}")
    return paths


def text(rendered) -> str:
    return rendered.content.decode("utf-8")


def load_yaml(rendered) -> dict:
    return yaml.safe_load(rendered.content)


def schema_fields(files: dict, dataset: str, name: str, project: str = PROJECT) -> list[dict]:
    return load_yaml(files[f"{project}/{dataset}/{name}/schema.yaml"])["fields"]


def parse(rendered) -> exp.Expression:
    return sqlglot.parse_one(text(rendered), read="bigquery")


def table_name(table: exp.Table) -> str:
    return ".".join(part.name for part in table.parts)


def source_tables(expression: exp.Expression) -> set[str]:
    """The fully qualified tables a statement reads (CTE references left out)."""
    ctes = {cte.alias_or_name for cte in expression.find_all(exp.CTE)}
    target = expression.this if isinstance(expression, exp.Create) else None
    return {
        table_name(table)
        for table in expression.find_all(exp.Table)
        if table is not target and table_name(table) not in ctes
    }


def sqlglot_schema(files: dict, project: str, apps: tuple[str, ...]) -> dict:
    """Every table the render reads, typed from its schema.yaml (the ping table by hand)."""
    schema: dict = {project: {}}
    for app in apps:
        schema[project][app] = {"gecko_trace": PING_COLUMNS}
        schema[project][f"{app}_derived"] = {
            table: {field["name"]: field["type"] for field in schema_fields(files, f"{app}_derived", table, project)}
            for table in TABLES
        }
    return schema


# -- the set of files ---------------------------------------------------------------


def test_render_is_exactly_the_expected_37_files(files):
    assert len(files) == 37
    assert set(files) == expected_paths(PROJECT, APPS)


def test_every_file_ends_with_exactly_one_newline(files):
    for path, rendered in files.items():
        assert rendered.content.endswith(b"\n"), path
        assert not rendered.content.endswith(b"\n\n"), path
        assert not re.search(rb"[ \t]+\n", rendered.content), f"{path}: trailing whitespace"


def test_no_jinja_is_left_in_the_output(files):
    for path, rendered in files.items():
        for marker in ("{{", "}}", "{%", "%}", "{#", "#}"):
            assert marker not in text(rendered), f"{path}: {marker!r}"


def test_object_types(files):
    for path, rendered in files.items():
        if rendered.role == "dataset_metadata.yaml":
            assert rendered.object_type == "dataset", path
        elif rendered.dataset == AGGREGATES:
            assert rendered.object_type == "view" and rendered.name in VIEWS, path
        else:
            assert rendered.object_type == "table" and rendered.name in TABLES, path


# -- SQL ------------------------------------------------------------------------------


def test_every_sql_file_parses_as_bigquery(files):
    for path, rendered in files.items():
        if rendered.role.endswith(".sql"):
            expression = parse(rendered)
            assert expression is not None, path
            if rendered.role == "view.sql":
                assert isinstance(expression, exp.Create) and expression.kind == "VIEW", path
            else:
                assert isinstance(expression, exp.Query), path


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("table", TABLES)
def test_query_columns_are_the_schema_columns_in_order(files, app, table):
    query = parse(files[f"{PROJECT}/{app}_derived/{table}/query.sql"])
    names = [field["name"] for field in schema_fields(files, f"{app}_derived", table)]
    assert query.named_selects == names


@pytest.mark.parametrize("table", TABLES)
def test_query_reads_its_source_with_known_columns_and_types_match_schema(files, table):
    """Every column a query reads exists in its source's schema, and every output
    column's type (where sqlglot can infer it: not for the mozfun routines) is the
    schema.yaml type."""
    app = APPS[0]
    schema = sqlglot_schema(files, PROJECT, APPS)
    query = parse(files[f"{PROJECT}/{app}_derived/{table}/query.sql"])
    assert source_tables(query) == {SOURCES[table].format(project=PROJECT, app=app)}
    qualified = qualify(query, schema=schema, dialect="bigquery", validate_qualify_columns=True)
    typed = annotate_types(qualified, schema=schema, dialect="bigquery")
    declared = {field["name"]: field["type"] for field in schema_fields(files, f"{app}_derived", table)}
    for select in typed.selects:
        inferred = select.type.sql("bigquery")
        if inferred != "UNKNOWN":
            assert inferred == declared[select.alias_or_name], select.alias_or_name


def test_queries_filter_on_the_submission_date_parameter(files):
    for path, rendered in files.items():
        if rendered.role == "query.sql":
            assert "@submission_date" in text(rendered), path


def test_traces_use_the_mozfun_routines(files):
    sql = text(files[f"{PROJECT}/{APPS[0]}_derived/gecko_trace_traces_v1/query.sql"])
    assert "mozfun.gecko_trace.build_root_span(" in sql
    assert "mozfun.gecko_trace.calculate_signature(root_span)" in sql


@pytest.mark.parametrize("view", VIEWS)
def test_view_creates_itself_and_reads_every_application(files, view):
    statement = parse(files[f"{PROJECT}/{AGGREGATES}/{view}/view.sql"])
    assert table_name(statement.this) == f"{PROJECT}.{AGGREGATES}.{view}"
    expected = {f"{PROJECT}.{app}_derived.{VIEWS[view]}" for app in APPS}
    assert source_tables(statement) == expected
    sql = text(files[f"{PROJECT}/{AGGREGATES}/{view}/view.sql"])
    assert sql.count("UNION ALL") == len(APPS) - 1
    assert "\n\n" not in sql, "blank lines left by Jinja blocks"
    for app in APPS:
        assert f'"{app}" AS application' in sql


@pytest.mark.parametrize("view", VIEWS)
def test_view_schema_is_application_then_its_table(files, view):
    view_fields = schema_fields(files, AGGREGATES, view)
    table_fields = schema_fields(files, f"{APPS[0]}_derived", VIEWS[view])
    assert view_fields[0] == {**view_fields[0], "name": "application", "type": "STRING", "mode": "NULLABLE"}
    assert [field["name"] for field in view_fields] == ["application"] + [field["name"] for field in table_fields]
    assert view_fields[1:] == table_fields


@pytest.mark.parametrize("view", VIEWS)
def test_view_output_columns_are_its_schema(files, view):
    """With the tables' schemas, `*` expands to exactly the view's schema.yaml."""
    schema = sqlglot_schema(files, PROJECT, APPS)
    statement = parse(files[f"{PROJECT}/{AGGREGATES}/{view}/view.sql"])
    query = qualify(statement.expression, schema=schema, dialect="bigquery", validate_qualify_columns=True)
    assert query.named_selects == [field["name"] for field in schema_fields(files, AGGREGATES, view)]


# -- YAML -----------------------------------------------------------------------------


def test_schemas_are_bigquery_etl_schemas(files):
    for path, rendered in files.items():
        if rendered.role == "schema.yaml":
            fields = load_yaml(rendered)["fields"]
            names = [field["name"] for field in fields]
            assert len(names) == len(set(names)), path
            for field in fields:
                assert set(field) == {"name", "type", "mode", "description"}, (path, field)
                assert field["type"] in BIGQUERY_TYPES, (path, field)
                assert field["mode"] in ("NULLABLE", "REQUIRED", "REPEATED"), (path, field)
                assert field["description"].strip(), (path, field)


@pytest.mark.parametrize("app", APPS)
@pytest.mark.parametrize("table", TABLES)
def test_table_metadata_points_at_schema_columns(files, app, table):
    metadata = load_yaml(files[f"{PROJECT}/{app}_derived/{table}/metadata.yaml"])
    types = {field["name"]: field["type"] for field in schema_fields(files, f"{app}_derived", table)}
    assert metadata["friendly_name"]
    assert app in metadata["description"]
    assert metadata["owners"] and all("@" in owner for owner in metadata["owners"])
    assert metadata["labels"] == {"incremental": True, "schedule": "daily"}
    assert metadata["scheduling"]["dag_name"] == "bqetl_gecko_trace"
    partitioning = metadata["bigquery"]["time_partitioning"]
    assert partitioning["type"] == "day"
    assert partitioning["require_partition_filter"] is True
    assert types[partitioning["field"]] in ("DATE", "TIMESTAMP")
    date_parameter = metadata["scheduling"].get("date_partition_parameter")
    if date_parameter is not None:
        assert date_parameter == partitioning["field"]
    clustering = metadata["bigquery"]["clustering"]["fields"]
    assert 1 <= len(clustering) <= 4
    assert len(set(clustering)) == len(clustering)
    assert set(clustering) <= set(types)


@pytest.mark.parametrize("view", VIEWS)
def test_view_metadata(files, view):
    metadata = load_yaml(files[f"{PROJECT}/{AGGREGATES}/{view}/metadata.yaml"])
    assert metadata["friendly_name"] and metadata["description"]
    assert metadata["owners"] and all("@" in owner for owner in metadata["owners"])


def test_dataset_metadata(files):
    metadata = load_yaml(files[f"{PROJECT}/{AGGREGATES}/dataset_metadata.yaml"])
    assert metadata["friendly_name"] and metadata["description"]
    assert metadata["dataset_base_acl"] == "view"
    assert metadata["user_facing"] is True
    assert metadata["labels"] == {}
    assert metadata["workgroup_access"] == [
        {"role": "roles/bigquery.dataViewer", "members": ["workgroup:mozilla-confidential"]}
    ]


def test_copied_files_are_the_template_bytes(files):
    """Schemas, view metadata and dataset metadata are copied byte for byte."""
    templates = default_templates()
    for path, rendered in files.items():
        if rendered.object_type == "table" and rendered.role == "schema.yaml":
            source = templates / "derived" / rendered.name / rendered.role
        elif rendered.object_type == "view" and rendered.role in ("schema.yaml", "metadata.yaml"):
            source = templates / "aggregates" / rendered.name / rendered.role
        elif rendered.object_type == "dataset":
            source = templates / "aggregates" / rendered.role
        else:
            continue
        assert rendered.content == source.read_bytes(), path


# -- nothing is tied to one project or application --------------------------------------


def test_another_project_and_application_change_every_path_and_reference():
    project, apps = "my-test-project", ("org_mozilla_focus",)
    files = _render(project, apps)
    assert set(files) == expected_paths(project, apps)
    assert len(files) == 3 * 3 + 3 * 3 + 1
    for path, rendered in files.items():
        content = text(rendered)
        assert PROJECT not in content, path
        for app in APPS:
            assert app not in content or rendered.role == "schema.yaml", (path, app)
        if rendered.role.endswith(".sql"):
            tables = source_tables(parse(rendered))
            assert tables, path
            for table in tables:
                assert table.startswith(f"{project}.") or table.startswith("mozfun."), (path, table)
                assert "org_mozilla_focus" in table or table.startswith("mozfun."), (path, table)
        if rendered.role == "metadata.yaml" and rendered.object_type == "table":
            assert "org_mozilla_focus" in load_yaml(rendered)["description"], path
    for view, table in VIEWS.items():
        statement = parse(files[f"{project}/{AGGREGATES}/{view}/view.sql"])
        assert table_name(statement.this) == f"{project}.{AGGREGATES}.{view}"
        assert source_tables(statement) == {f"{project}.org_mozilla_focus_derived.{table}"}
    schema = sqlglot_schema(files, project, apps)
    for table in TABLES:
        query = parse(files[f"{project}/org_mozilla_focus_derived/{table}/query.sql"])
        assert source_tables(query) == {SOURCES[table].format(project=project, app="org_mozilla_focus")}
        qualify(query, schema=schema, dialect="bigquery", validate_qualify_columns=True)
