"""One real worker process end to end, against the idiomatic Faust app on the same input.

The raw topic is filled with N realistic requests (50 events each) before any app starts, so
the apps run flat out. An event is counted when its output message (a per-type record, or a
dead letter) is on an output topic: the two are one to one for the sample requests.

**Worker**: ``python -m bench.probed_worker`` (the worker of ``agents.run`` plus the sensor of
``bench.probe``), with whatever agents and tables the worker has at the time of the run.
start = the moment the first raw message entered the ingest stream. The ingest agent
acknowledges a batch only after the broker acknowledged all of its output, so the last raw
message's acknowledgement is "last output acknowledged" for the ingest path. When the worker
also consumes topics of its own (metric partials, say), end is the later of that and the
moment it had acknowledged every message those topics held when the raw topic was done: work
the input caused downstream in the same process counts too. Rate = output messages /
(end - start). The output topics must then hold exactly the expected messages.

**Baseline**: ``bench.baseline_app``, the same work written the idiomatic way (one message at a
time, one awaited send per record, one windowed table increment per event). It is too slow to
wait for: its rate is the output messages on its topics at the end of a fixed window after its
first raw message (or when it finished, if sooner), divided by that time.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.settings import Settings
from bench.broker import (
    Broker,
    Header,
    RecordCounter,
    broker_pid,
    create_topics,
    own_broker,
    preload,
)
from bench.cpu import CpuSampler
from bench.probe import ProbeState
from bench.section import Row, RunOptions
from bench.traffic import recent_bodies, stamped_headers
from bench.worker import BASELINE, PROBED_WORKER, AppProcess, app_env
from processor import EventType, process_request

OUTPUT_SUFFIXES = (*(f"events.{kind.value}" for kind in EventType), "events.invalid")
RAW_SUFFIX = "events.raw"
DOWNSTREAM_START_SECONDS = 2.0


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
    requests: int
    events: int
    records: int
    """Per-type records."""
    outputs: int
    """Per-type records plus dead letters."""


@dataclass(frozen=True)
class Run:
    """What one app did: output messages in ``seconds``, and what else it wrote."""

    outputs: int
    seconds: float
    other_writes: dict[str, int]
    """Messages on the app's other topics (metric partials, changelogs, windows...), by topic."""
    raw_seconds: float = 0.0
    """First raw message in to last raw message acknowledged."""
    app_cpu: float = 0.0
    """CPU seconds of the app's process in ``seconds``."""
    broker_cpu: float = 0.0
    """CPU seconds of the broker's process in ``seconds``."""

    @property
    def rate(self) -> float:
        return self.outputs / self.seconds

    def cpu_rows(self, who: str) -> list[Row]:
        """CPU seconds per million output messages, of the app and of the broker."""
        per_million = 1e6 / max(self.outputs, 1)
        return [
            Row(f"{who} CPU per million events", self.app_cpu * per_million, "s"),
            Row(f"{who} broker CPU per million events", self.broker_cpu * per_million, "s"),
        ]


def input_bodies(requests: int) -> list[bytes]:
    """``requests`` distinct bodies of recent events: the worker's dedup window drops a repeat."""
    return recent_bodies(requests)


def expected_output(
    bodies: Sequence[bytes], headers: Sequence[Header], timestamp_ms: int
) -> Expected:
    events = records = letters = 0
    for body in bodies:
        result = process_request(body, headers, timestamp_ms)
        events += result.event_count
        records += len(result.records)
        letters += len(result.dead_letters)
    return Expected(len(bodies), events, records, records + letters)


def output_topics(prefix: str) -> list[str]:
    return [prefix + suffix for suffix in OUTPUT_SUFFIXES]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def wait_probe(
    app: AppProcess, probe: Path, done: Callable[[ProbeState], bool], timeout: float
) -> ProbeState:
    """Poll the probe until ``done(state)`` holds; fail if the app dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        state = ProbeState.read(probe)
        if done(state):
            return state
        app.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"probe {state} not done in {timeout} s:\n{app.log()[-3000:]}")
        time.sleep(0.05)


def _downstream_end(
    bootstrap: str, app: AppProcess, probe: Path, raw: str, timeout: float
) -> float | None:
    """When the app had acknowledged, on each other topic it consumes, every message that topic
    held when the raw topic was done; None when it consumes no other topic."""
    raw_done = ProbeState.read(probe).last_out[raw]
    # Downstream agents (metric partials, say) take their first message a moment after ingest
    # wrote it: give them that moment before asking which topics the app consumes.
    time.sleep(max(0.0, raw_done + DOWNSTREAM_START_SECONDS - time.time()))
    consumed = [topic for topic in ProbeState.read(probe).first_in if topic != raw]
    if not consumed:
        return None
    targets = asyncio.run(_counts(bootstrap, consumed, created_until_ms=int(raw_done * 1000)))
    state = wait_probe(
        app,
        probe,
        lambda s: all(s.reached(topic, count) is not None for topic, count in targets.items()),
        timeout,
    )
    return max(state.reached(topic, count) or raw_done for topic, count in targets.items())


async def _app_writes(
    bootstrap: str, app: AppProcess, outputs: list[str], created_until_ms: int | None = None
) -> dict[str, int]:
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
        counts = await reader.counts(sorted(own), created_until_ms)
    app_id = app.env["APP_ID"]
    return {
        name.removeprefix(app.prefix).removeprefix(f"{app_id}-"): count
        for name, count in counts.items()
    }


async def _counts(
    bootstrap: str, topics: list[str], created_until_ms: int | None = None
) -> dict[str, int]:
    async with RecordCounter(bootstrap) as reader:
        return await reader.counts(topics, created_until_ms)


def output_count(bootstrap: str, topics: list[str], created_until_ms: int | None = None) -> int:
    return sum(asyncio.run(_counts(bootstrap, topics, created_until_ms)).values())


def run_worker(broker: Broker, work: Path, env: dict[str, str], sizes: Sizes) -> Run:
    """The worker through the whole pre-loaded raw topic (see the module's docstring)."""
    bootstrap = broker.bootstrap
    probe = work / "worker-probe.json"
    raw = env["TOPIC_PREFIX"] + RAW_SUFFIX
    with (
        AppProcess(
            PROBED_WORKER, {**env, "BENCH_PROBE_PATH": str(probe)}, work / "worker.log"
        ) as worker,
        CpuSampler({"app": worker.pid, "broker": broker_pid(broker)}) as cpu,
    ):
        state = wait_probe(
            worker, probe, lambda s: s.out.get(raw, 0) >= sizes.requests, sizes.timeout
        )
        start, raw_done = state.first_in[raw], state.last_out[raw]
        downstream = _downstream_end(bootstrap, worker, probe, raw, sizes.timeout)
        end = max(raw_done, downstream or raw_done)
        outputs = output_count(bootstrap, output_topics(worker.prefix))
    # Stopped: its last table changes are flushed to their changelogs.
    other = asyncio.run(_app_writes(bootstrap, worker, output_topics(worker.prefix)))
    used = cpu.between(start, end)
    return Run(outputs, end - start, other, raw_done - start, used["app"], used["broker"])


def run_baseline(broker: Broker, work: Path, raw: str, sizes: Sizes) -> Run:
    """The idiomatic app on the same raw topic, for ``sizes.baseline_seconds`` at most."""
    bootstrap = broker.bootstrap
    probe = work / "baseline-probe.json"
    env = app_env(bootstrap, work / "data", BENCH_PROBE_PATH=str(probe), BASELINE_RAW_TOPIC=raw)
    with (
        AppProcess(BASELINE, env, work / "baseline.log") as baseline,
        CpuSampler({"app": baseline.pid, "broker": broker_pid(broker)}) as cpu,
    ):
        state = wait_probe(baseline, probe, lambda s: raw in s.first_in, sizes.timeout)
        start = state.first_in[raw]
        deadline = start + sizes.baseline_seconds
        until = None
        while until is None:
            state = ProbeState.read(probe)
            if state.out.get(raw, 0) >= sizes.requests:
                until = state.last_out[raw]  # finished early: its last acknowledgement
            elif time.time() >= deadline:
                until = time.time()
            baseline.check_alive()
            time.sleep(0.05)
    # Stopped: count what it had created by ``until`` (record timestamps are its send times).
    topics = output_topics(baseline.prefix)
    outputs = output_count(bootstrap, topics, created_until_ms=int(until * 1000))
    other = asyncio.run(_app_writes(bootstrap, baseline, topics, int(until * 1000)))
    used = cpu.between(start, until)
    return Run(outputs, until - start, other, until - start, used["app"], used["broker"])


def prepared_input(
    options: RunOptions,
) -> tuple[Sizes, list[bytes], list[Header], Expected]:
    """The run's sizes, its request bodies stamped as received now, and what they must become."""
    size = sizes(options)
    bodies = input_bodies(size.requests)
    received_at_ms = int(time.time() * 1000)
    headers = stamped_headers(received_at_ms)
    return size, bodies, headers, expected_output(bodies, headers, received_at_ms)


def run_apps(options: RunOptions, with_baseline: bool) -> tuple[Expected, Run, Run | None]:
    """Pre-load one raw topic, run the worker through it, then the baseline on the same one."""
    size, bodies, headers, expected = prepared_input(options)
    partitions = Settings.from_env().topic_partitions
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        with own_broker(options.broker, work) as broker:
            env = app_env(broker.bootstrap, work / "data")
            raw = env["TOPIC_PREFIX"] + RAW_SUFFIX
            asyncio.run(create_topics(broker.bootstrap, [raw], partitions))
            asyncio.run(preload(broker.bootstrap, raw, bodies, headers))
            progress(f"e2e: {len(bodies)} requests ({expected.events} events) on {raw}")
            worker = run_worker(broker, work, env, size)
            progress(f"e2e: worker {worker.rate:,.0f} events/s over {worker.seconds:.1f} s")
            if worker.outputs != expected.outputs:
                raise RuntimeError(
                    f"the worker wrote {worker.outputs} output messages, {expected.outputs} "
                    "were expected"
                )
            baseline = run_baseline(broker, work, raw, size) if with_baseline else None
            if baseline is not None:
                progress(f"e2e: baseline {baseline.rate:,.0f} events/s")
    return expected, worker, baseline


_worker_runs: dict[str, Run] = {}
"""The worker's last run in this bench run, by broker kind."""


def worker_run(options: RunOptions) -> Run:
    """The worker flat out on ``options.broker``: this run's e2e section's, else measured now."""
    if options.broker not in _worker_runs:
        _worker_runs[options.broker] = run_apps(options, with_baseline=False)[1]
    return _worker_runs[options.broker]


def worker_rate(options: RunOptions) -> float:
    """The worker's flat-out events/s (see ``worker_run``)."""
    return worker_run(options).rate


def _write_rows(run: Run, who: str) -> list[Row]:
    """What an app wrote besides its output topics: changelogs, metric partials, windows."""
    written = {name: count for name, count in sorted(run.other_writes.items()) if count}
    rows = [Row(f"{who} writes to {name}", count, "messages") for name, count in written.items()]
    total = sum(written.values())
    rows.append(
        Row(f"{who} other writes per 1000 events", 1000 * total / max(run.outputs, 1), "messages")
    )
    return rows


def measure(options: RunOptions) -> list[Row]:
    expected, worker, baseline = run_apps(options, with_baseline=True)
    _worker_runs[options.broker] = worker
    rows = [
        Row("input requests", sizes(options).requests, "requests"),
        Row("input events", expected.events, "events"),
        Row("worker output messages", worker.outputs, "messages"),
        Row("worker first raw consumed -> last raw acked", worker.raw_seconds, "s"),
        Row("worker first raw consumed -> downstream done", worker.seconds, "s"),
        Row("worker events/s", worker.rate, "events/s"),
        *worker.cpu_rows("worker"),
        *_write_rows(worker, "worker"),
    ]
    if baseline is not None:
        rows += [
            Row("baseline output messages", baseline.outputs, "messages"),
            Row("baseline measured for", baseline.seconds, "s"),
            Row("baseline events/s", baseline.rate, "events/s"),
            *baseline.cpu_rows("baseline"),
            *_write_rows(baseline, "baseline"),
            Row("worker/baseline", worker.rate / baseline.rate, "x"),
        ]
    return rows
