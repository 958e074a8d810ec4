"""One real worker process end to end, against the idiomatic Faust app on the same input.

The raw topic is filled with N realistic requests (50 events each) before any app starts, so
the apps run flat out. An event is counted when its output message (a per-type record, or a
dead letter) is on an output topic: the two are one to one for the sample requests.

**Worker**: ``python -m bench.probed_worker`` (the worker of ``agents.run`` plus the sensor of
``bench.probe``), with whatever agents and tables the worker has at the time of the run.
start = the moment the first raw message entered the ingest stream; end = the moment the last
message was acknowledged on any topic the worker consumes, after the raw topic is done and
every app topic has been quiet for a second. The ingest agent acknowledges a batch only after
the broker acknowledged its output, so end is "last output acknowledged". Rate = output
messages / (end - start). The output topics must then hold exactly the expected messages.

**Baseline**: ``bench.baseline_app``, the same work written the idiomatic way (one message at a
time, one awaited send per record, one windowed table increment per event). It is too slow to
wait for: its rate is the output messages on its topics at the end of a fixed window after its
first raw message (or when it finished, if sooner), divided by that time.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.settings import Settings
from bench import workload
from bench.broker import RecordCounter, create_topics, embedded_broker, preload
from bench.probe import ProbeState
from bench.section import Row, RunOptions
from bench.worker import BASELINE, PROBED_WORKER, AppProcess, app_env
from processor import EventType, process_request

OUTPUT_SUFFIXES = (*(f"events.{kind.value}" for kind in EventType), "events.invalid")
RAW_SUFFIX = "events.raw"


@dataclass(frozen=True)
class Sizes:
    requests: int
    """Requests pre-loaded on the raw topic."""
    baseline_seconds: float
    """How long the baseline is measured for, from its first consumed message."""
    timeout: float
    """Longest wait for the worker to get through the input."""


def sizes(options: RunOptions) -> Sizes:
    if options.tiny:
        return Sizes(requests=40, baseline_seconds=3.0, timeout=60.0)
    if options.quick:
        return Sizes(requests=600, baseline_seconds=8.0, timeout=90.0)
    return Sizes(requests=5_000, baseline_seconds=25.0, timeout=240.0)


@dataclass(frozen=True)
class Expected:
    events: int
    outputs: int
    """Per-type records plus dead letters."""


@dataclass(frozen=True)
class Run:
    """What one app did: output messages in ``seconds``, and what else it wrote."""

    outputs: int
    seconds: float
    other_writes: dict[str, int]
    """Messages on the app's other topics (table changelogs, metric windows...), by topic."""

    @property
    def rate(self) -> float:
        return self.outputs / self.seconds


def input_bodies(requests: int) -> list[bytes]:
    """``requests`` bodies: the workload's bodies, repeated as needed."""
    return list(itertools.islice(itertools.cycle(workload.request_bodies()), requests))


def expected_output(bodies: Sequence[bytes]) -> Expected:
    events = outputs = 0
    for body in bodies:
        result = process_request(body, workload.HEADERS, workload.RECORD_TIMESTAMP_MS)
        events += result.event_count
        outputs += len(result.records) + len(result.dead_letters)
    return Expected(events, outputs)


def output_topics(prefix: str) -> list[str]:
    return [prefix + suffix for suffix in OUTPUT_SUFFIXES]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _wait_probe(app: AppProcess, probe: Path, done: object, timeout: float) -> ProbeState:
    """Poll the probe until ``done(state)`` holds; fail if the app dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        state = ProbeState.read(probe)
        if done(state):  # type: ignore[operator]
            return state
        app.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"probe {state} not done in {timeout} s:\n{app.log()[-3000:]}")
        time.sleep(0.05)


def _wait_quiet(app: AppProcess, probe: Path, quiet: float, timeout: float) -> ProbeState:
    """The probe once no topic has acked a message for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = ProbeState.read(probe)
        last = max(state.last_out.values(), default=0.0)
        if time.time() - last >= quiet or time.monotonic() > deadline:
            return state
        app.check_alive()
        time.sleep(0.1)


async def _app_writes(bootstrap: str, app: AppProcess, outputs: list[str]) -> dict[str, int]:
    """Messages on every topic of the app (its prefix or its app id) except raw and outputs."""
    async with RecordCounter(bootstrap) as reader:
        names = await reader.topic_names()
        own = [
            name
            for name in names
            if (name.startswith(app.prefix) or name.startswith(app.env["APP_ID"]))
            and name not in outputs
            and not name.endswith(RAW_SUFFIX)
        ]
        counts = await reader.counts(sorted(own))
    app_id = app.env["APP_ID"]
    return {
        name.removeprefix(app.prefix).removeprefix(f"{app_id}-"): count
        for name, count in counts.items()
    }


async def _output_count(
    bootstrap: str, topics: list[str], created_until_ms: int | None = None
) -> int:
    async with RecordCounter(bootstrap) as reader:
        return sum((await reader.counts(topics, created_until_ms)).values())


def run_worker(bootstrap: str, work: Path, env: dict[str, str], sizes: Sizes) -> Run:
    """The worker through the whole pre-loaded raw topic (see the module's docstring)."""
    probe = work / "worker-probe.json"
    raw = env["TOPIC_PREFIX"] + RAW_SUFFIX
    with AppProcess(
        PROBED_WORKER, {**env, "BENCH_PROBE_PATH": str(probe)}, work / "worker.log"
    ) as worker:
        state = _wait_probe(
            worker, probe, lambda s: s.out.get(raw, 0) >= sizes.requests, sizes.timeout
        )
        state = _wait_quiet(worker, probe, quiet=1.0, timeout=15.0)
        start, end = state.first_in[raw], max(state.last_out.values())
        outputs = asyncio.run(_output_count(bootstrap, output_topics(worker.prefix)))
        other = asyncio.run(_app_writes(bootstrap, worker, output_topics(worker.prefix)))
    return Run(outputs, end - start, other)


def run_baseline(bootstrap: str, work: Path, raw: str, sizes: Sizes) -> Run:
    """The idiomatic app on the same raw topic, for ``sizes.baseline_seconds`` at most."""
    probe = work / "baseline-probe.json"
    env = app_env(bootstrap, work / "data", BENCH_PROBE_PATH=str(probe), BASELINE_RAW_TOPIC=raw)
    with AppProcess(BASELINE, env, work / "baseline.log") as baseline:
        state = _wait_probe(baseline, probe, lambda s: raw in s.first_in, sizes.timeout)
        start = state.first_in[raw]
        deadline = start + sizes.baseline_seconds
        while time.time() < deadline:
            state = ProbeState.read(probe)
            if state.out.get(raw, 0) >= sizes.requests:
                break
            baseline.check_alive()
            time.sleep(0.05)
        until = time.time()
        if state.out.get(raw, 0) >= sizes.requests:
            until = _wait_quiet(baseline, probe, quiet=0.5, timeout=5.0).last_out[raw]
    # Stopped: count what it had created by ``until`` (record timestamps are its send times).
    topics = output_topics(baseline.prefix)
    outputs = asyncio.run(_output_count(bootstrap, topics, created_until_ms=int(until * 1000)))
    other = asyncio.run(_app_writes(bootstrap, baseline, topics))
    return Run(outputs, until - start, other)


def run_apps(options: RunOptions, with_baseline: bool) -> tuple[Expected, Run, Run | None]:
    """Pre-load one raw topic, run the worker through it, then the baseline on the same one."""
    size = sizes(options)
    bodies = input_bodies(size.requests)
    expected = expected_output(bodies)
    partitions = Settings.from_env().topic_partitions
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        with embedded_broker(work) as broker:
            env = app_env(broker.bootstrap, work / "data")
            raw = env["TOPIC_PREFIX"] + RAW_SUFFIX
            asyncio.run(create_topics(broker.bootstrap, [raw], partitions))
            asyncio.run(preload(broker.bootstrap, raw, bodies, list(workload.HEADERS.items())))
            progress(f"e2e: {len(bodies)} requests ({expected.events} events) on {raw}")
            worker = run_worker(broker.bootstrap, work, env, size)
            progress(f"e2e: worker {worker.rate:,.0f} events/s over {worker.seconds:.1f} s")
            if worker.outputs != expected.outputs:
                raise RuntimeError(
                    f"the worker wrote {worker.outputs} output messages, {expected.outputs} "
                    "were expected"
                )
            baseline = run_baseline(broker.bootstrap, work, raw, size) if with_baseline else None
            if baseline is not None:
                progress(f"e2e: baseline {baseline.rate:,.0f} events/s")
    return expected, worker, baseline


_measured_rates: list[float] = []


def worker_rate(options: RunOptions) -> float:
    """The worker's flat-out events/s: measured by this run's e2e section, else measured now."""
    if not _measured_rates:
        _measured_rates.append(run_apps(options, with_baseline=False)[1].rate)
    return _measured_rates[-1]


def _write_rows(run: Run, who: str, events: int) -> list[Row]:
    rows = []
    for name, count in sorted(run.other_writes.items()):
        if count == 0:  # Faust's own bookkeeping topics, unused by one worker
            continue
        rows.append(Row(f"{who} writes to {name}", count, "messages"))
        rows.append(Row(f"{who} writes to {name} per event", count / max(events, 1), "messages"))
    return rows


def measure(options: RunOptions) -> list[Row]:
    expected, worker, baseline = run_apps(options, with_baseline=True)
    _measured_rates.append(worker.rate)
    rows = [
        Row("input requests", sizes(options).requests, "requests"),
        Row("input events", expected.events, "events"),
        Row("worker output messages", worker.outputs, "messages"),
        Row("worker first consumed -> last acked", worker.seconds, "s"),
        Row("worker events/s", worker.rate, "events/s"),
        *_write_rows(worker, "worker", worker.outputs),
    ]
    if baseline is not None:
        rows += [
            Row("baseline output messages", baseline.outputs, "messages"),
            Row("baseline measured for", baseline.seconds, "s"),
            Row("baseline events/s", baseline.rate, "events/s"),
            *_write_rows(baseline, "baseline", baseline.outputs),
            Row("worker/baseline", worker.rate / baseline.rate, "x"),
        ]
    return rows
