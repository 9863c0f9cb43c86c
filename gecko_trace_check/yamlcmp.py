"""YAML comparison by meaning: parsed values, differences named by key path or field name.

Quoting, key order, indentation and comments don't count. schema.yaml fields are matched
by ``name`` (nested RECORD fields too); other files are described as changed key paths,
``bigquery.clustering.fields: [trace_id, span_id] -> [trace_id]``. The old value is the
committed file's, the new one the render's: what ``--fix`` would write. Imported only
when a YAML file's bytes differ from the render: deepdiff is kept off the clean path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from deepdiff import DeepDiff

MAX_VALUE = 80
_ABSENT = object()


def show(value: Any) -> str:
    """A value the way a person reads YAML: ``[trace_id, span_id]``, ``true``, ``null``."""

    def inline(item: Any) -> str:
        if item is None:
            return "null"
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, list):
            return "[" + ", ".join(inline(element) for element in item) + "]"
        if isinstance(item, dict):
            return "{" + ", ".join(f"{key}: {inline(element)}" for key, element in item.items()) + "}"
        if isinstance(item, str) and (item == "" or item.strip() != item or any(c in item for c in ",:[]{}#\n")):
            return '"' + item.replace("\n", "\\n") + '"'
        return str(item)

    text = inline(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def without_keys(document: Any, key_paths: Iterable[str]) -> Any:
    """A copy of ``document`` without the dotted key paths other tools add."""
    paths = [path.split(".") for path in key_paths]
    if not paths or not isinstance(document, dict):
        return document
    document = copy.deepcopy(document)
    for parts in paths:
        node = document
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(parts[-1], None)
    return document


def _lookup(document: Any, path: list[Any]) -> Any:
    node = document
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _ABSENT
    return node


def _changed_paths(old: Any, new: Any) -> list[list[Any]]:
    """Key paths (lists of dict keys, no list indexes) where old and new differ, in order."""
    tree = DeepDiff(old, new, view="tree", ignore_order=False, verbose_level=2)
    paths: list[list[Any]] = []
    for report in tree.values():
        for level in report:
            path = []
            for part in level.path(output_format="list"):
                if isinstance(part, int):
                    break  # a list changes as a whole: [a, b] -> [a]
                path.append(part)
            if path not in paths:
                paths.append(path)
    # A parent path already says everything its children would.
    paths = [p for p in paths if not any(q != p and p[: len(q)] == q for q in paths)]
    return sorted(paths, key=lambda p: [str(part) for part in p])


def key_changes(old: Any, new: Any) -> list[str]:
    """``a.b.c: old -> new`` for each changed key path."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [f"{show(old)} -> {show(new)}"]
    changes = []
    for path in _changed_paths(old, new):
        name = ".".join(str(part) for part in path) or "(document)"
        changes.append(_change(f"{name}:", _lookup(old, path), _lookup(new, path)))
    return changes


def _change(what: str, before: Any, after: Any) -> str:
    """``what added (x)``, ``what removed (was x)`` or ``what x -> y``."""
    if before is _ABSENT:
        return f"{what} added ({show(after)})"
    if after is _ABSENT:
        return f"{what} removed (was {show(before)})"
    return f"{what} {show(before)} -> {show(after)}"


def _is_field_list(fields: Any) -> bool:
    return isinstance(fields, list) and all(isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields)


def _flatten(fields: list[dict], prefix: str = "") -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Fields by dotted name (``root_span.name``), and each level's field order."""
    by_name: dict[str, dict] = {}
    order: dict[str, list[str]] = {prefix: []}
    for field in fields:
        name = prefix + field["name"]
        order[prefix].append(field["name"])
        by_name[name] = {key: value for key, value in field.items() if key != "fields"}
        nested = field.get("fields")
        if _is_field_list(nested):
            nested_fields, nested_order = _flatten(nested, name + ".")
            by_name.update(nested_fields)
            order.update(nested_order)
        elif nested is not None:
            by_name[name]["fields"] = nested
    return by_name, order


def _describe_field(field: dict) -> str:
    return ", ".join(str(field[key]) for key in ("type", "mode") if key in field)


def schema_changes(old: Any, new: Any) -> list[str]:
    """Field by field: added, removed, type / mode / description changed, reordered."""
    if not (isinstance(old, dict) and isinstance(new, dict) and _is_field_list(old.get("fields")) and _is_field_list(new.get("fields"))):
        return key_changes(old, new)
    changes = key_changes({k: v for k, v in old.items() if k != "fields"}, {k: v for k, v in new.items() if k != "fields"})
    old_fields, old_order = _flatten(old["fields"])
    new_fields, new_order = _flatten(new["fields"])
    for name in new_fields:
        if name not in old_fields:
            changes.append(f"field {name} added ({_describe_field(new_fields[name])})")
    for name in old_fields:
        if name not in new_fields:
            changes.append(f"field {name} removed")
    common = {name: old_fields[name] for name in old_fields if name in new_fields}
    for path in _changed_paths(common, {name: new_fields[name] for name in common}):
        name, attribute = path[0], ".".join(str(part) for part in path[1:])
        changes.append(_change(f"field {name}: {attribute}", _lookup(old_fields[name], path[1:]), _lookup(new_fields[name], path[1:])))
    for level, names in new_order.items():
        kept_old = [name for name in old_order.get(level, []) if name in names]
        kept_new = [name for name in names if name in kept_old]
        if kept_old != kept_new:
            where = f"fields of {level[:-1]}" if level else "fields"
            changes.append(f"{where} reordered: {show(kept_old)} -> {show(kept_new)}")
    return changes
