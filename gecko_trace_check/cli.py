"""Command line: ``gecko-trace-check [check] | generate | lint | test``; ``main(argv) -> int``.

Exit codes: 0 in sync / success, 1 drift or findings, 2 the tool could not run
(usage, configuration, template or input error: one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from gecko_trace_check import __version__, config
from gecko_trace_check.errors import InputError

PROG = "gecko-trace-check"
COMMANDS = ("check", "generate", "lint", "test")
FORMATS = ("text", "json", "github", "markdown")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("configuration (overrides [tool.gecko-trace-check] in pyproject.toml)")
    group.add_argument("--sql-dir", metavar="DIR", help="the warehouse's sql tree (default: sql)")
    group.add_argument("--target-project", metavar="ID", help=f"the BigQuery project (default: {config.DEFAULT_PROJECT})")
    group.add_argument(
        "--app",
        dest="applications",
        action="append",
        metavar="ID",
        help="an application id; repeat for several (default: " + ", ".join(config.DEFAULT_APPLICATIONS) + ")",
    )
    group.add_argument("--templates", metavar="DIR", help="a generator template directory (default: the shipped templates)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Keep a warehouse's committed Gecko Trace SQL in sync with its templates. "
        "Without a command, runs `check`.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        parents=[common],
        help="compare the committed sql tree with a fresh render (the default)",
        description="Render into memory, compare with the committed sql tree, report drift or --fix it.",
    )
    check.add_argument("--fix", action="store_true", help="rewrite stale and missing files, delete orphaned ones")
    check.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="with --fix: exit 1 when a file was changed (for pre-commit, which misses new files)",
    )
    check.add_argument("--strict", action="store_true", help="treat formatting-only differences and lint warnings as drift")
    check.add_argument("--diff", action="store_true", help="show full diffs of changed SQL, not the first lines")
    check.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    check.add_argument(
        "--ignore-key",
        dest="ignore_keys",
        action="append",
        metavar="PATH",
        help="a YAML key path to leave out of the comparison, e.g. bigquery.time_partitioning.expiration_days",
    )
    check.add_argument("--no-lint", action="store_true", help="skip the consistency lint")

    generate = commands.add_parser(
        "generate",
        parents=[common],
        help="write the pipeline's SQL and YAML files",
        description="Render the templates and write the files below --output-dir.",
    )
    generate.add_argument("--output-dir", metavar="DIR", help="where to write (default: the configured sql dir, sql)")
    generate.add_argument("--lint", action="store_true", help="lint the render first and write nothing on errors")

    lint = commands.add_parser(
        "lint",
        parents=[common],
        help="check that the rendered pipeline is consistent (SQL parses, columns = schemas, references resolve)",
        description="Render into memory and lint it: valid SQL, queries vs schemas, metadata, references, views, routines.",
    )
    lint.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    lint.add_argument("--strict", action="store_true", help="treat lint warnings as errors")

    test = commands.add_parser(
        "test",
        parents=[common],
        help="run the rendered pipeline on fixture rows with DuckDB (needs the [run] extra)",
        description="Render into memory, run every query and view on its fixtures "
        "(bigquery-etl's tests/sql layout) with DuckDB and compare the rows with expect.yaml.",
    )
    test.add_argument("--fixtures", metavar="DIR", help="the fixture tree (default: tests/sql at the repository root)")
    return parser


def _load_config(args: argparse.Namespace) -> config.Config:
    return config.load(
        sql_dir=args.sql_dir,
        target_project=args.target_project,
        applications=args.applications,
        templates=args.templates,
        ignore_keys=getattr(args, "ignore_keys", None),
    )


def run_generate(args: argparse.Namespace) -> int:
    from gecko_trace_check import render
    from gecko_trace_check.fix import write_render
    from gecko_trace_check.tree import Tree

    cfg = _load_config(args)
    files = render.render(cfg.templates, cfg.target_project, cfg.applications)
    output_dir = Path(args.output_dir) if args.output_dir else cfg.sql_dir
    shown = args.output_dir or cfg.sql_dir_display
    if args.lint and _lint_before_writing(cfg, files, output_dir, shown):
        return 1
    # Rendered in full first (a template error writes nothing), every target checked
    # before the first write, each file written atomically.
    write_render(files, Tree(output_dir, shown))
    apps = len(cfg.applications)
    print(f"Wrote {len(files)} files for {apps} application{'s' if apps != 1 else ''} to {shown}/{cfg.target_project}")
    return 0


def _lint_before_writing(cfg: config.Config, files: list, output_dir: Path, shown: str) -> bool:
    """Print the findings on the render; True when there are errors (then nothing is written)."""
    from gecko_trace_check import lint
    from gecko_trace_check.reporters import Outcome
    from gecko_trace_check.reporters.text import render_findings
    from gecko_trace_check.tree import Tree

    outcome = Outcome(shown, cfg.target_project, cfg.applications, [], lint.lint(cfg, files, Tree(output_dir, shown)))
    if outcome.findings:
        print(render_findings(outcome))
    if outcome.lint_errors:
        print(f"{PROG}: lint errors: nothing written", file=sys.stderr)
        return True
    return False


def run_lint(args: argparse.Namespace) -> int:
    from gecko_trace_check import lint

    return lint.run(_load_config(args), args)


def run_test(args: argparse.Namespace) -> int:
    from gecko_trace_check.run import suite

    return suite.run(_load_config(args), args.fixtures)


def run_check(args: argparse.Namespace) -> int:
    from gecko_trace_check import check

    return check.run(_load_config(args), args)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or (arguments[0] not in COMMANDS and arguments[0] not in ("-h", "--help", "--version")):
        arguments.insert(0, "check")
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
        if getattr(args, "exit_non_zero_on_fix", False) and not args.fix:
            parser.error("--exit-non-zero-on-fix only makes sense with --fix")
    except SystemExit as exc:  # argparse prints its own usage line
        return exc.code if isinstance(exc.code, int) else 2
    runners = {"check": run_check, "generate": run_generate, "lint": run_lint, "test": run_test}
    try:
        return runners[args.command](args)
    except InputError as exc:
        print(f"{PROG}: {exc.relative_to(os.getcwd())}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `gecko-trace-check | head`: the reader left; not our error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
