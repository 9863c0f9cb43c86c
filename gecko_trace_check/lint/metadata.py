"""The YAML files: schema.yaml loaded (with each field's line), and rule 3 on
metadata.yaml (metadata-schema): partitioning and clustering name schema fields."""

from __future__ import annotations

import yaml

from gecko_trace_check import yamlio
from gecko_trace_check.lint import ERROR
from gecko_trace_check.lint.context import Context, Schema
from gecko_trace_check.render import RenderedFile

PARTITION_TYPES = ("DATE", "TIMESTAMP", "DATETIME")  # BigQuery's time-unit column partitioning
MAX_CLUSTERING_FIELDS = 4


def _yaml(file: RenderedFile, context: Context) -> tuple[object, yaml.Node | None] | None:
    # Parsed once per distinct text: every application has the same schema.yaml.
    parsed = context.yaml_cache.get(file.content)
    if parsed is None:
        parsed = context.yaml_cache[file.content] = _parse_yaml(file.content)
    if parsed[0] == "error":
        _, message, line, column, opaque = parsed
        if opaque:
            context.opaque()
        context.add(ERROR, "valid-yaml", file, message, line, column)
        return None
    return parsed[1], parsed[2]


def _parse_yaml(content: bytes) -> tuple:
    """("ok", document, node) or ("error", message, line, column, whether the message quotes a position)."""
    try:
        document, node = yamlio.load_with_nodes(content.decode("utf-8", errors="replace"))
    except yamlio.InvalidYAML as exc:
        return "error", f"not valid YAML: {exc.problem}", exc.line, None, False
    return "ok", document, node


def _node(node: yaml.Node | None, *keys: str | int) -> yaml.Node | None:
    for key in keys:
        if isinstance(node, yaml.MappingNode) and isinstance(key, str):
            node = next((value for name, value in node.value if getattr(name, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return None
    return node


def _where(node: yaml.Node | None) -> tuple[int | None, int | None]:
    return (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (None, None)


def load_schema(context: Context, file: RenderedFile) -> None:
    loaded = _yaml(file, context)
    if loaded is None:
        return
    document, root = loaded
    entries = document.get("fields") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(entry, dict) and entry.get("name") for entry in entries):
        context.add(ERROR, "valid-yaml", file, "schema.yaml must hold a `fields` list of fields with a name")
        return
    lines = [_where(_node(root, "fields", index)) for index in range(len(entries))]
    context.schemas[(file.project, file.dataset, file.name)] = Schema(file, entries, lines)


def check_metadata(context: Context, file: RenderedFile) -> None:
    loaded = _yaml(file, context)
    if loaded is None:
        return
    document, root = loaded
    bigquery = document.get("bigquery") if isinstance(document, dict) else None
    if not isinstance(bigquery, dict):
        return
    schema = context.schema((file.project, file.dataset, file.name))
    if schema is None:
        return
    partitioning = bigquery.get("time_partitioning")
    partition_field = partitioning.get("field") if isinstance(partitioning, dict) else None
    if partition_field is not None:
        where = _where(_node(root, "bigquery", "time_partitioning", "field"))
        field_type = schema.field_type(str(partition_field))
        if field_type is None:
            context.add(ERROR, "metadata-schema", file, f"partition field {partition_field} is not a field of schema.yaml", *where)
        elif field_type not in PARTITION_TYPES:
            context.add(ERROR, "metadata-schema", file,
                        f"partition field {partition_field} is {field_type}: BigQuery partitions by a DATE, TIMESTAMP or DATETIME column",
                        *where)
    clustering = bigquery.get("clustering")
    clustering_fields = clustering.get("fields") if isinstance(clustering, dict) else None
    if not isinstance(clustering_fields, list):
        return
    for index, name in enumerate(clustering_fields):
        if str(name) not in schema.names:
            context.add(ERROR, "metadata-schema", file, f"clustering field {name} is not a field of schema.yaml",
                        *_where(_node(root, "bigquery", "clustering", "fields", index)))
    if len(clustering_fields) > MAX_CLUSTERING_FIELDS:
        context.add(ERROR, "metadata-schema", file,
                    f"{len(clustering_fields)} clustering fields: BigQuery allows at most {MAX_CLUSTERING_FIELDS}",
                    *_where(_node(root, "bigquery", "clustering", "fields")))
