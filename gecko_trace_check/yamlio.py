"""Reading YAML, one way for every stage: libyaml when available, duplicate keys refused.

PyYAML silently keeps the last of two equal keys; in a metadata.yaml that hides an edit,
so a duplicate key is invalid YAML here, with its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gecko_trace_check.errors import InputError, read_text

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InvalidYAML(ValueError):
    def __init__(self, problem: str, line: int | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line

    @property
    def where(self) -> str:
        return f" at line {self.line}" if self.line else ""


class _Loader(_Base):  # type: ignore[misc, valid-type]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: PyYAML's own error says it best
                break
            if duplicate:
                raise InvalidYAML(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _invalid(exc: yaml.YAMLError) -> InvalidYAML:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc).splitlines()[0]
    return InvalidYAML(problem, mark.line + 1 if mark is not None else None)


def load(text: str | bytes) -> Any:
    """The parsed document; raises InvalidYAML (problem, line)."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise _invalid(exc) from None


def load_with_nodes(text: str) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree, for line numbers of items inside it."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    except yaml.YAMLError as exc:
        raise _invalid(exc) from None
    finally:
        loader.dispose()


def read_file(path: Path, *, with_nodes: bool = False) -> Any:
    """A YAML file's document (and nodes); an unreadable, non-UTF-8 or invalid file is an InputError."""
    text = read_text(path)
    try:
        return load_with_nodes(text) if with_nodes else load(text)
    except InvalidYAML as exc:
        raise InputError(f"invalid YAML: {exc.problem}", str(path), exc.line) from None
