"""``make faults RUNS=N``: repeat each fault scenario and print what every run lost.

    python -m faults [--runs N] [--scenario NAME ...] [--quick] [--broker embedded]

Each run gets a broker of its own, fresh topics and consumer group, and its logs under
``faults/results/<time>-<broker>-<pid>/<scenario>-<run>/``. The table counts, per scenario,
the events sent (outputs expected), those lost, and the repeats (each must be an exact copy).
The exit code is 1 when any run lost an event or repeated one inexactly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from faults.brokers import KINDS, Broker, broker
from faults.ledger import Outcome
from faults.scenarios import FULL, QUICK, SCENARIOS, Run, Scenario, Size

RESULTS = Path(__file__).resolve().parent / "results"
_WARNINGS = ("would commit", "never delivered", "stopping the worker", "Traceback")


def _evidence(run: Run) -> list[str]:
    lines = [f"  lost raw messages (partition, offset, outputs): {run.outcome.lost_requests[:20]}"]
    for log in run.logs:
        text = log.read_text(errors="replace") if log.exists() else ""
        hits = [line for line in text.splitlines() if any(w in line for w in _WARNINGS)]
        lines.append(f"  {log}: {len(hits)} warning lines")
        lines += [f"    {line[:300]}" for line in hits[:15]]
    return lines


def _attempt(scenario: Scenario, handle: Broker, work: Path, size: Size, seed: int) -> Run:
    """The scenario's run; one that raises (a worker that crashed stops answering, say) is a
    failed run with the logs of its workers, not the end of the campaign."""
    try:
        return scenario.run(handle, work, size, seed)
    except Exception as error:  # any failure of a run is that run's verdict
        logs = sorted(work.glob("worker-*.log"))
        return Run(Outcome(), logs, faults=0, error=f"{type(error).__name__}: {error}")


def run_scenario(scenario: Scenario, runs: int, size: Size, kind: str, out: Path) -> list[Run]:
    done: list[Run] = []
    for index in range(runs):
        work = out / f"{scenario.name}-{index + 1}"
        work.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with broker(kind, work) as handle:
            run = _attempt(scenario, handle, work, size, 1000 + index)
        outcome = run.outcome
        verdict = "ok" if run.ok else "FAILED"
        print(
            f"{scenario.name} run {index + 1}/{runs}: {verdict}; expected {outcome.expected}, "
            f"lost {outcome.lost} (raw messages the broker lost: {outcome.raw_lost}), "
            f"duplicates {outcome.duplicates} (inexact {outcome.inexact_duplicates}); tables "
            f"short {outcome.counted_short}, over {outcome.counted_twice}; "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )
        if run.error:
            print(f"  the run could not be accounted: {run.error}", flush=True)
        if run.worker_exited:
            print("  a worker was not running at the end of the run", flush=True)
        for note in run.notes:
            print(f"  {note}", flush=True)
        if not run.ok:
            print("\n".join(_evidence(run)), flush=True)
        (work / "outcome.json").write_text(json.dumps(asdict(outcome), indent=1))
        done.append(run)
    return done


def _table(results: dict[str, list[Run]]) -> str:
    rows = [
        (
            "scenario",
            "runs",
            "events sent",
            "lost",
            "raw lost",
            "duplicates",
            "inexact",
            "counted short",
            "counted twice",
            "failed",
        )
    ]
    for name, runs in results.items():
        outcomes = [run.outcome for run in runs]
        rows.append(
            (
                name,
                str(len(runs)),
                f"{sum(o.expected for o in outcomes):,}",
                f"{sum(o.lost for o in outcomes):,}",
                f"{sum(o.raw_lost for o in outcomes):,}",
                f"{sum(o.duplicates for o in outcomes):,}",
                f"{sum(o.inexact_duplicates for o in outcomes):,}",
                f"{sum(o.counted_short for o in outcomes):,}",
                f"{sum(o.counted_twice for o in outcomes):,}",
                str(sum(not run.ok for run in runs)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="(repeatable) default: all"
    )
    parser.add_argument("--quick", action="store_true", help="less traffic per run")
    parser.add_argument(
        "--broker",
        default="embedded",
        choices=KINDS,
        help="embedded (default), kafka (one Apache Kafka node) or cluster (three)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="(repeatable) a worker setting for every run, unless the scenario sets it",
    )
    args = parser.parse_args(argv)
    for setting in args.env:
        name, _, value = setting.partition("=")
        os.environ[name] = value
    cluster, embedded = args.broker == "cluster", args.broker == "embedded"
    names = args.scenario or [
        name
        for name, s in SCENARIOS.items()
        if s.needs_cluster == cluster and not (embedded and s.not_on_embedded)
    ]
    if not cluster and any(SCENARIOS[name].needs_cluster for name in names):
        raise SystemExit("those scenarios fault brokers: run them with --broker cluster")
    for name in names:
        if embedded and SCENARIOS[name].not_on_embedded:
            why = SCENARIOS[name].not_on_embedded
            raise SystemExit(f"{name} runs on Apache Kafka only ({why}): use --broker kafka")
    # Two campaigns started in the same second must not share run folders: each worker's log
    # (where readiness is read) and data dir live there.
    out = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-{args.broker}-{os.getpid()}"
    out.mkdir(parents=True)
    size = QUICK if args.quick else FULL
    settings = f" with {' '.join(args.env)}" if args.env else ""
    print(f"fault runs: {args.runs} x {names} on the {args.broker} broker{settings}; logs in {out}")
    results = {
        name: run_scenario(SCENARIOS[name], args.runs, size, args.broker, out) for name in names
    }
    table = _table(results)
    print("\n" + table)
    (out / "table.txt").write_text(table + "\n")
    return 0 if all(run.ok for runs in results.values() for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
