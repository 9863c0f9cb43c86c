"""Benchmark: what does gecko-trace-check cost a commit? Run by hand: ``python bench/run.py``.

Every case is a fresh process, timed from fork to exit (wall time) with its peak
memory (``ru_maxrss`` of that child, from ``os.wait4``). The cases run round-robin
(round 1: every case once, round 2: every case again, ...) so a noisy neighbour or a
CPU frequency change hits all of them alike; the table shows medians and ratios
measured in this one run. Setup (building trees, re-drifting before ``--fix``) is not
timed. Uses the standard library and the installed tool only.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = "moz-fx-data-shared-prod"
SPANS = f"sql/{PROJECT}/firefox_desktop_derived/gecko_trace_spans_v1"
REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


@dataclass
class Case:
    name: str
    what: str
    argv: list[str]
    cwd: Path | None = None
    expect: int = 0  # the exit code that proves the case measured what it claims
    before: Callable[[], None] | None = None  # untimed setup before each run
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)  # user + system: less sensitive to a busy machine
    peak_bytes: list[int] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def peak_mib(self) -> float:
        return max(self.peak_bytes) / MIB


def tool_command() -> list[str]:
    """The console script next to this Python (what pre-commit runs), else ``-m``."""
    script = Path(sys.executable).with_name("gecko-trace-check")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gecko_trace_check"]


# Forks and times the case from a small process of its own. On Linux a child's ru_maxrss
# starts at the memory of the process it was forked from, so a child of this (larger)
# script would report this script's size; the launcher is smaller than any case.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def run_once(case: Case, env: dict[str, str]) -> None:
    if case.before:
        case.before()
    done = subprocess.run([sys.executable, "-c", LAUNCHER, *case.argv], cwd=case.cwd, env=env, capture_output=True, text=True)
    code, seconds, cpu_seconds, maxrss = done.stdout.split()
    if int(code) != case.expect:
        raise SystemExit(f"{case.name}: exit {code}, expected {case.expect}: {done.stderr[-2000:]}")
    case.seconds.append(float(seconds))
    case.cpu_seconds.append(float(cpu_seconds))
    case.peak_bytes.append(int(maxrss) * (1 if sys.platform == "darwin" else 1024))  # KiB on Linux


def warehouse(root: Path, applications: list[str] | None = None) -> Path:
    """A git-less warehouse folder (with ``.git`` so the config search stops there), generated and in sync."""
    root.mkdir(parents=True)
    (root / ".git").mkdir()
    if applications is not None:
        listed = ", ".join(f'"{app}"' for app in applications)
        (root / "pyproject.toml").write_text(f"[tool.gecko-trace-check]\napplications = [{listed}]\n")
    subprocess.run([*tool_command(), "generate"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    return root


def add_unrelated(sql: Path, datasets: int, tables: int, derived: bool) -> int:
    """``datasets`` x ``tables`` hand-written queries: the rest of a big warehouse."""
    for d in range(datasets):
        dataset = f"team_{d:03d}_derived" if derived else f"team_{d:03d}"
        for t in range(tables):
            table = sql / PROJECT / dataset / f"report_{t:03d}_v1"
            table.mkdir(parents=True)
            (table / "query.sql").write_text(f"SELECT {t} AS report_{t}\n")
    return datasets * tables


def drifter(root: Path) -> Callable[[], None]:
    """Makes one query and one schema stale (semantic changes), as they were before each run."""
    query, schema = root / SPANS / "query.sql", root / SPANS / "schema.yaml"
    fresh_query, fresh_schema = query.read_text(), schema.read_text()
    assert "AS trace_id" in fresh_query and "type: STRING" in fresh_schema
    stale_query = fresh_query.replace("AS trace_id", "AS trace_key", 1)
    stale_schema = fresh_schema.replace("type: STRING", "type: BYTES", 1)

    def drift() -> None:
        query.write_text(stale_query)
        schema.write_text(stale_schema)

    return drift


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        tool = version("gecko-trace-check")
    except Exception:  # noqa: BLE001 - only a label
        tool = "?"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "gecko-trace-check": f"{tool} (commit {commit or '?'})",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def build_cases(work: Path, tool: list[str]) -> dict[str, Case]:
    print("building trees ...", file=sys.stderr, flush=True)
    default = warehouse(work / "default")
    drifted = warehouse(work / "drift")
    drifter(drifted)()
    fixed = warehouse(work / "fix")
    apps = {n: warehouse(work / f"apps{n}", [f"app_{i:03d}" for i in range(n)]) for n in (3, 30, 300)}
    big = warehouse(work / "big")
    add_unrelated(big / "sql", 100, 100, derived=True)
    big_plain = warehouse(work / "big_plain")
    add_unrelated(big_plain / "sql", 100, 100, derived=False)
    floor = [sys.executable, "-c", "import jinja2, yaml"]
    cases = [
        Case("floor", 'python -c "import jinja2, yaml"', floor),
        Case("clean", "clean check, default config (3 applications, empty warehouse)", tool, default),
        Case("drift", "check with drift (1 stale query.sql + 1 stale schema.yaml)", tool, drifted, expect=1),
        Case("fix", "--fix on that drift (re-drifted before each run)", [*tool, "--fix"], fixed, before=drifter(fixed)),
        Case("apps3", "clean check, 3 applications (pyproject.toml)", tool, apps[3]),
        Case("apps30", "clean check, 30 applications", tool, apps[30]),
        Case("apps300", "clean check, 300 applications", tool, apps[300]),
        Case("big", "clean check, + 10,000 unrelated files (100 *_derived datasets x 100 tables)", tool, big),
        Case("big_plain", "clean check, + 10,000 unrelated files (100 other datasets x 100 tables)", tool, big_plain),
    ]
    return {case.name: case for case in cases}


@dataclass(frozen=True)
class Ratio:
    label: str
    case: str
    base: str
    target: float | None  # at most; None = for information


RATIOS = (
    Ratio("clean check / floor", "clean", "floor", 1.5),
    Ratio("check with drift / floor", "drift", "floor", None),
    Ratio("--fix / floor", "fix", "floor", None),
    Ratio("30 applications / 3", "apps30", "apps3", None),
    Ratio("300 applications / 3", "apps300", "apps3", 10.0),
    Ratio("10,000-file tree (*_derived) / empty tree", "big", "clean", 1.15),
    Ratio("10,000-file tree (other datasets) / empty tree", "big_plain", "clean", 1.15),
)
MEMORY_CASE, MEMORY_TARGET_MIB = "apps300", 100.0
# The first case of each distinct render: its warm-up run is the lint's cold run.
COLD_CASES = ("clean", "apps30", "apps300")


def report(cases: dict[str, Case], rounds: int, info: dict[str, str], cold: dict[str, Case]) -> tuple[str, bool]:
    lines = ["| case | median ms | min ms | median CPU ms | peak MiB |", "|---|---:|---:|---:|---:|"]
    for case in cases.values():
        cpu_ms = statistics.median(case.cpu_seconds) * 1000
        lines.append(f"| {case.what} | {case.median_ms:.1f} | {min(case.seconds) * 1000:.1f} | {cpu_ms:.1f} | {case.peak_mib:.1f} |")
    lines += ["", "| first check after a change (cold lint cache, 1 run) | ms | CPU ms | peak MiB |", "|---|---:|---:|---:|"]
    for case in cold.values():
        lines.append(f"| {case.what} | {case.seconds[0] * 1000:.1f} | {case.cpu_seconds[0] * 1000:.1f} | {case.peak_mib:.1f} |")
    lines += ["", "| ratio (medians) | measured | target | holds |", "|---|---:|---:|---|"]
    holds = True
    for ratio in RATIOS:
        value = cases[ratio.case].median_ms / cases[ratio.base].median_ms
        ok = ratio.target is None or value <= ratio.target
        holds &= ok
        target = f"<= {ratio.target:g}x" if ratio.target is not None else "-"
        verdict = "-" if ratio.target is None else ("yes" if ok else "**no**")
        lines.append(f"| {ratio.label} | {value:.2f}x | {target} | {verdict} |")
    peak = cases[MEMORY_CASE].peak_mib
    ok = peak < MEMORY_TARGET_MIB
    holds &= ok
    lines.append(f"| peak memory, 300 applications | {peak:.1f} MiB | < {MEMORY_TARGET_MIB:g} MiB | {'yes' if ok else '**no**'} |")
    if MEMORY_CASE in cold:  # not a target of its own: reported so the table does not hide it
        peak = cold[MEMORY_CASE].peak_mib
        verdict = "yes" if peak < MEMORY_TARGET_MIB else "no (cold lint cache)"
        lines.append(f"| peak memory, 300 applications, cold lint cache | {peak:.1f} MiB | (< {MEMORY_TARGET_MIB:g} MiB) | {verdict} |")
    header = [f"- {key}: {value}" for key, value in info.items()] + [f"- rounds: {rounds} (round-robin over the cases; medians)"]
    return "\n".join(header + [""] + lines), holds


# What profiling (`python -X importtime`, cProfile) found; not regenerated by a run.
NOTES = """\
## Where the time goes (profiled 2026-12-04 on the machine of the first run above)

- **Clean check**, default configuration, in-process phases (medians of 15 runs):
  Python with Jinja2 is most of it; our modules with argparse about 12 ms; rendering
  (compiling 9 templates once, rendering 21) 10-13 ms; `render.check_yaml` (imports PyYAML
  and parses each YAML template's render once) about 20 ms; the byte comparison of 37 files
  about 2 ms; the lint cache lookup under 1 ms. Nothing parses SQL, nothing imports
  sqlglot, deepdiff or difflib (asserted by `tests/test_performance.py`).
- **A large warehouse**: only the project folder, the `*_derived` datasets and the owned
  objects are listed (asserted by a test over 10,000 files). Listing a `*_derived` dataset
  is needed to find the tables of an application removed from the configuration; it costs
  about 70 us per dataset of 100 tables (7 ms for the 100 in the first 10,000-file case),
  the difference between the two 10,000-file rows.
- **Drift** costs what the diff engine imports, only when a file's bytes differ: sqlglot
  (about 120 ms) for a stale SQL file, deepdiff for a stale YAML file (several hundred ms
  under `-X importtime`: it imports numpy when numpy is installed, as with the `run` extra,
  and asyncio through cachebox).
- **300 applications**: rendering and reading 2,710 files. The link guard now resolves
  each folder once instead of every path from the root: the comparison of 2,710 files
  went from about 180 to 100 ms.
- **The first check after a change** of the templates or the applications (a cold lint
  cache; in CI, every run that keeps no cache: the action keeps it) lints the render. It
  was 0.3 s for 3 applications, 1.2 s for 30, 30-35 s and about 150 MiB for 300: one
  `qualify` per SQL file (903), each rebuilding sqlglot's schema of the whole render (two
  thirds of the time), and the set of produced tables recomputed per file. Now the schema
  is built once; the derived files of applications that differ only in the id are parsed
  and qualified once, with the id replaced by a placeholder, and the findings copied per
  application (facts outside the files, such as the raw ping folder, still asked per
  application); a view that is a plain UNION ALL of `SELECT "<app_id>" AS application, *`
  is checked branch by branch from the schemas instead of qualifying the 300-way union.
  A cold check of 300 applications is now about 0.8 s and 48 MiB (`lint` alone, median of
  3: 0.4 s for 3 applications, 0.3 s for 30, 0.7 s for 300); what is left is mostly
  rendering and parsing the three views (linear). The clean-check targets assume a warm
  cache; this row keeps the cold one visible.
- **Not used**: Jinja2's bytecode cache took rendering from about 13 to 3.5 ms in-process,
  but end to end the gain was within run-to-run noise on this machine, and it would execute
  marshalled code from a cache folder; left out while the targets hold.
"""


def write_doc(path: Path, table: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Benchmarks\n\n"
        "What a run of `gecko-trace-check` costs, measured by `bench/run.py`. Reproduce with\n\n"
        "```sh\npython bench/run.py            # --rounds N, --no-write\n```\n\n"
        "(the Python of the environment the tool is installed in). Each case is a fresh process,\n"
        "forked by a small launcher that reads its wall time (fork to exit), CPU time and peak\n"
        "memory (`ru_maxrss`; on Linux a child's starts at the size of the process it was forked\n"
        "from, hence the launcher). The cases run round-robin and every ratio compares medians\n"
        "from the same run, so the ratios, not the milliseconds, carry over to another machine.\n"
        'The floor is `python -c "import jinja2, yaml"`: starting Python with the two libraries\n'
        "a render needs. Python's bytecode caches are on (in a temporary `PYTHONPYCACHEPREFIX`),\n"
        "as for an installed tool. The lint cache lives in a temporary folder filled by a warm-up\n"
        "round, as on a developer's machine after the first commit; that round is the first check\n"
        "after a change of the templates or the applications (and every check in a CI job that\n"
        "keeps no cache), reported once in the second table.\n\n"
        f"{table}\n\n{NOTES}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default: 15)")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/benchmarks.md alone")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)

    tool = tool_command()
    work = Path(tempfile.mkdtemp(prefix="gecko-trace-bench-"))
    try:
        env = {**os.environ, "GECKO_TRACE_CHECK_CACHE": str(work / "cache"), "NO_COLOR": "1"}
        # Bytecode caches on, as for an installed tool (pip compiles a wheel's modules);
        # in a temporary folder, so an editable checkout gets no __pycache__ folders.
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        for name in ("GITHUB_STEP_SUMMARY", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        cases = build_cases(work, tool)
        # Bytecode for every module a run may import, so the warm-up measures the lint alone.
        modules = ("cli", "check", "fix", "lint", "lint.rules", "sqlcmp", "yamlcmp")
        precompile = f"import importlib, contextlib\nfor name in {modules}:\n    with contextlib.suppress(ImportError):\n        importlib.import_module('gecko_trace_check.' + name)"
        subprocess.run([sys.executable, "-c", precompile], env=env, check=True)
        print("warm-up (fills the lint cache: about a second for 300 applications) ...", file=sys.stderr, flush=True)
        cold = {}
        for case in cases.values():  # warm-up: page cache, the lint cache
            run_once(case, env)
            if case.name in COLD_CASES:
                cold[case.name] = Case(case.name, case.what, case.argv, seconds=list(case.seconds), cpu_seconds=list(case.cpu_seconds), peak_bytes=list(case.peak_bytes))
            case.seconds.clear()
            case.cpu_seconds.clear()
            case.peak_bytes.clear()
        for index in range(args.rounds):
            print(f"round {index + 1}/{args.rounds}", file=sys.stderr, flush=True)
            for case in cases.values():
                run_once(case, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table, holds = report(cases, args.rounds, machine(), cold)
    print(table)
    if not args.no_write:
        write_doc(args.output, table)
        print(f"\nwrote {args.output}", file=sys.stderr)
    return 0 if holds else 1


if __name__ == "__main__":
    raise SystemExit(main())
