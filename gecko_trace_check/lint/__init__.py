"""The consistency lint: is the rendered pipeline itself right, before BigQuery runs it?

``lint(cfg, rendered, tree)`` returns findings; the rules (``rules`` and the modules it
runs, which import sqlglot) run only when the cache (``cache``) has no answer for this
render, so a check of an unchanged pipeline never parses SQL.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from gecko_trace_check import __version__, render
from gecko_trace_check.config import Config
from gecko_trace_check.errors import InputError
from gecko_trace_check.lint import cache
from gecko_trace_check.tree import Tree

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning
    rule: str  # valid-sql, query-schema, metadata-schema, references, views, routines
    object: str  # as BigQuery names it: firefox_desktop_derived.gecko_trace_spans_v1
    path: str  # the rendered file, below the sql dir (as RenderedFile.path)
    line: int | None
    column: int | None
    message: str


class TreeProbe:
    """Existence checks on the committed tree, remembered for the cache."""

    def __init__(self, tree: Tree) -> None:
        self.root = tree.root
        self.shown = tree.shown  # a path below the tree as the user would type it
        self.consulted: dict[str, bool] = {}

    def exists(self, relpath: str) -> bool:
        """Does ``<sql-dir>/relpath`` exist? ``""`` asks about the sql dir itself."""
        if relpath not in self.consulted:
            self.consulted[relpath] = os.path.exists(self.root / relpath if relpath else self.root)
        return self.consulted[relpath]


def _rules_source() -> bytes:
    """The rules' own code and the SQL parser's version: a new rule, or a sqlglot that parses
    differently, invalidates what was found before. (Read from files: nothing is imported.)"""
    package = Path(__file__).parent
    # Every module of this package (a new rule module counts without being listed here).
    sources = sorted(package.glob("*.py")) + [package.parent / "sqlrefs.py"]
    spec = importlib.util.find_spec("sqlglot")
    if spec is not None and spec.origin:
        sources.append(Path(spec.origin).with_name("_version.py"))
    content = b""
    for source in sources:
        with contextlib.suppress(OSError):
            content += source.read_bytes()
    return content


def fingerprint() -> str:
    """The tool's version and rules: what a cached finding depends on besides the render
    (the action keys its CI cache on it)."""
    return f"{__version__}-{hashlib.sha256(_rules_source()).hexdigest()[:12]}"


def cache_key(cfg: Config, rendered: Sequence[render.RenderedFile], tree: Tree) -> str:
    digest = hashlib.sha256()

    def add(value: str | bytes) -> None:
        data = value.encode("utf-8") if isinstance(value, str) else value
        digest.update(len(data).to_bytes(8, "big") + data)  # length-prefixed: no ambiguous joins

    add(__version__)
    add(_rules_source())
    # The configuration the findings depend on beyond the files themselves (messages
    # name paths as the user types them, and the applications a view must cover).
    add(cfg.target_project)
    add(",".join(cfg.applications))
    add(tree.display)
    for file in rendered:
        add(file.path)
        add(file.content)
    return digest.hexdigest()


def _from_dict(entry: dict) -> Finding:
    names = {field.name for field in fields(Finding)}
    if set(entry) != names:
        raise ValueError("not a finding")
    return Finding(**entry)


def lint(cfg: Config, rendered: Sequence[render.RenderedFile], tree: Tree) -> list[Finding]:
    """The findings on a render, checked against the committed tree at ``tree``."""
    key = cache_key(cfg, rendered, tree)
    cached = cache.load(key, tree.root)
    if cached is not None:
        try:
            return [_from_dict(entry) for entry in cached]
        except (TypeError, ValueError):
            pass  # a corrupt entry is a miss
    try:
        from gecko_trace_check.lint import rules
    except ImportError as exc:  # a broken install: sqlglot and PyYAML are dependencies
        raise InputError(f"the lint needs {exc.name or 'sqlglot'}, which is not installed (or pass --no-lint)") from None

    probe = TreeProbe(tree)
    findings = rules.run(cfg, rendered, probe)
    cache.store(key, [asdict(finding) for finding in findings], probe.consulted)
    return findings


def run(cfg: Config, args: argparse.Namespace) -> int:
    """``gecko-trace-check lint``: the findings alone, exit 1 on errors."""
    from gecko_trace_check.reporters import Outcome

    rendered = render.render(cfg.templates, cfg.target_project, cfg.applications)
    findings = lint(cfg, rendered, Tree(cfg.sql_dir, cfg.sql_dir_display))
    outcome = Outcome(cfg.sql_dir_display, cfg.target_project, cfg.applications, [], findings, args.strict)
    if args.format == "json":
        from gecko_trace_check.reporters import jsonfmt

        document = jsonfmt.document(outcome)
        # The lint compares no files: its document is the check's without files and summary.
        print(json.dumps({key: value for key, value in document.items() if key not in ("files", "summary")}, indent=2))
    else:
        from gecko_trace_check.reporters.text import render_findings, use_color

        print(render_findings(outcome, color=use_color(sys.stdout)))
    return 1 if outcome.lint_errors else 0
