"""The check: render in memory, compare with the committed tree, report or fix."""

from __future__ import annotations

import argparse
import os
import sys

from gecko_trace_check import compare, lint, render
from gecko_trace_check.config import Config
from gecko_trace_check.reporters import Outcome, emit, print_report
from gecko_trace_check.tree import Tree


def fix_command(args: argparse.Namespace) -> str:
    """The exact command that fixes the drift: the flags the user gave, plus ``--fix``."""
    words = ["gecko-trace-check", "--fix"]
    for flag, value in (("--sql-dir", args.sql_dir), ("--target-project", args.target_project), ("--templates", args.templates)):
        if value is not None:
            words += [flag, value]
    for app_id in args.applications or ():
        words += ["--app", app_id]
    for key in getattr(args, "ignore_keys", None) or ():
        words += ["--ignore-key", key]
    if getattr(args, "strict", False):
        words.append("--strict")
    import shlex  # imports stay off the clean check's path where they can

    return shlex.join(words)


def run(cfg: Config, args: argparse.Namespace) -> int:
    rendered = render.render(cfg.templates, cfg.target_project, cfg.applications)
    tree = Tree(cfg.sql_dir, cfg.sql_dir_display, cfg.owned)
    results = compare.compare(rendered, tree, cfg.ignore_keys)
    # The lint is cached per render: an unchanged pipeline parses no SQL.
    findings = [] if args.no_lint else lint.lint(cfg, rendered, tree)
    outcome = Outcome(
        sql_dir=cfg.sql_dir_display,
        target_project=cfg.target_project,
        applications=cfg.applications,
        files=results,
        findings=findings,
        strict=args.strict,
        fix_command=fix_command(args),
    )
    if args.fix:
        return _run_fix(outcome, tree, args)
    print_report(emit(args.format, outcome, full_diff=args.diff, color=_color(args)))
    if os.environ.get("GITHUB_STEP_SUMMARY"):  # in a GitHub Actions job, whatever the format
        from gecko_trace_check.reporters.markdown import append_step_summary

        append_step_summary(outcome, os.environ["GITHUB_STEP_SUMMARY"])
    return outcome.exit_code


def _color(args: argparse.Namespace) -> bool:
    from gecko_trace_check.reporters.text import use_color

    return args.format == "text" and use_color(sys.stdout)


def _run_fix(outcome: Outcome, tree: Tree, args: argparse.Namespace) -> int:
    # With a machine format, stdout stays pure; the changed paths go to stderr.
    stream = sys.stdout if args.format == "text" else sys.stderr

    def announce(action: str, path: str) -> None:
        print(f"{action} {tree.shown(path)}", file=stream, flush=True)

    from gecko_trace_check import fix

    report = fix.apply(outcome.files, tree, outcome.strict, on_change=announce)
    if args.format != "text":
        print(emit(args.format, outcome))
    changed = len(report.written) + len(report.deleted)
    if changed:
        print(f"Fixed: wrote {len(report.written)}, deleted {len(report.deleted)}; the tree is in sync.", file=stream)
    else:
        print("Nothing to fix: the tree is in sync.", file=stream)
    if outcome.findings and args.format == "text":  # the fix repairs drift, not the templates
        from gecko_trace_check.reporters.text import render_findings

        print(render_findings(outcome, color=_color(args)))
    if outcome.lint_errors:
        return 1
    # For pre-commit: new files are not in `git diff`, so the hook must fail by itself.
    return 1 if changed and getattr(args, "exit_non_zero_on_fix", False) else 0
