"""``python -m bench``: the event core and one real worker, measured; ``--help`` lists options.

A section is a function ``(RunOptions) -> list[Row]`` in its own module; add one by listing it
in ``SECTIONS``. Sections run in the order listed; the default is all of them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import (
    core,
    e2e,
    fetch_wait,
    hotspots,
    ingress,
    latency,
    limit,
    memory,
    modes,
    peer,
    stages,
    windows,
)
from bench.broker import BROKERS
from bench.report import format_table, write_json
from bench.section import Row, RunOptions, Section

SECTIONS: dict[str, Section] = {
    "core": core.measure,
    "profile": hotspots.measure,
    "stages": stages.measure,
    "windows": windows.measure,
    "e2e": e2e.measure,
    "limit": limit.measure,
    "peer": peer.measure,
    "ingress": ingress.measure,
    "latency": latency.measure,
    "memory": memory.measure,
    "fetch_wait": fetch_wait.measure,
    "modes": modes.measure,
}
DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"


def _section_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        missing = ", ".join(unknown) or repr(text)
        raise argparse.ArgumentTypeError(
            f"no section named {missing}; choose from {', '.join(SECTIONS)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short repeats (noisier numbers)")
    parser.add_argument(
        "--tiny", action="store_true", help="tiny inputs for the end-to-end sections (smoke test)"
    )
    parser.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="MINUTES",
        help="run the memory section this long, printing RSS samples",
    )
    parser.add_argument(
        "--broker",
        choices=BROKERS,
        default="embedded",
        help="broker of the e2e, latency and memory sections (kafka: a local Apache Kafka node)",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write results")
    parser.add_argument(
        "--sections",
        type=_section_names,
        default=list(SECTIONS),
        help=f"comma-separated, from: {', '.join(SECTIONS)}",
    )
    args = parser.parse_args(argv)
    options = RunOptions(
        quick=args.quick, tiny=args.tiny, soak_minutes=args.soak, broker=args.broker
    )
    results: list[tuple[str, Row]] = []
    for name in args.sections:
        started = time.perf_counter()
        rows = SECTIONS[name](options)
        print(f"{name}: done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
        results.extend((name, row) for row in rows)
    print(format_table(results))
    write_json(
        args.json,
        results,
        {
            "quick": args.quick,
            "tiny": args.tiny,
            "soak_minutes": args.soak,
            "broker": args.broker,
            "sections": args.sections,
        },
    )
    print(f"\nwritten to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
