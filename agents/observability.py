"""Prometheus metrics of the worker, served at ``GET /metrics``.

Two families share one registry (``prometheus_client``'s default, which also carries the
``process_*`` and ``python_*`` collectors):

- ``faust_*``: Faust's own sensor (``faust.sensors.prometheus``): messages in and out per topic,
  send and commit latency, table operations, rebalances, end and committed offsets.
- ``statsig_stream_*``: what the pipeline did, fed by one call per ingest batch
  (:func:`observe_batch`), by the web sensor (HTTP requests per route and status) and, at
  scrape time, by the consumer's positions (lag per partition) and the enrichment's lookup
  caches (hits and misses).

The README's "Metrics and monitoring" section lists every ``statsig_stream_*`` metric.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import faust
from aiohttp.web import Response as AiohttpResponse
from faust import web
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from agents.app import app, checkpoint, settings
from processor import EventType, ProcessedRequest, lookup_cache_counts
from processor.context import read_context
from processor.reasons import DeadLetterReason

PREFIX = "statsig_stream"

# No ``*_created`` series: a timestamp per label set that no dashboard here reads.
disable_created_metrics()

raw_messages = Counter(
    f"{PREFIX}_raw_messages",
    "Raw messages (one per SDK request) whose output the ingest agent delivered",
)
events_in = Counter(f"{PREFIX}_events", "Events in the raw messages, valid or not")
repeated_requests = Counter(
    f"{PREFIX}_repeated_requests",
    "Raw messages not emitted: repeats of a request delivered within DEDUP_WINDOW_SECONDS",
)
records_out = Counter(
    f"{PREFIX}_records", "Records delivered to the per-type topics, by event type", ["type"]
)
dead_letters_out = Counter(
    f"{PREFIX}_dead_letters", "Dead letters delivered, by reason", ["reason"]
)
clock_skew = Histogram(
    f"{PREFIX}_clock_skew_seconds",
    "Distance between a request's client time and its arrival, per raw message with a client "
    "time (absolute value: clients ahead and behind count alike)",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600),
)
batch_messages = Histogram(
    f"{PREFIX}_batch_messages",
    "Raw messages per ingest batch",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
batch_events = Histogram(
    f"{PREFIX}_batch_events",
    "Events per ingest batch",
    buckets=(1, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000),
)
batch_seconds = Histogram(
    f"{PREFIX}_batch_seconds",
    "Seconds from taking an ingest batch to the broker's acknowledgement of all its output",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
end_to_end_age = Histogram(
    f"{PREFIX}_end_to_end_age_seconds",
    "Seconds from the arrival of a batch's oldest request to the acknowledgement of its output",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
http_requests = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered by the worker's views, by route and status",
    ["path", "status"],
)

for _kind in EventType:
    records_out.labels(type=_kind.value)
for _reason in DeadLetterReason:
    dead_letters_out.labels(reason=_reason.value)


def observe_batch(
    messages: Sequence[faust.types.Message],
    results: Sequence[ProcessedRequest],
    taken_at: float,
    repeats: int = 0,
) -> None:
    """Count one delivered ingest batch (``messages`` and their ``results``: what was emitted;
    ``repeats``: the messages the dedup window held back); ``taken_at`` is
    ``time.monotonic()`` when taken."""
    delivered_at = time.monotonic()
    now_ms = time.time() * 1000
    events = 0
    by_type: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for result in results:
        events += result.event_count
        for record in result.records:
            by_type[record.type] = by_type.get(record.type, 0) + 1
        for letter in result.dead_letters:
            by_reason[letter.reason] = by_reason.get(letter.reason, 0) + 1
    oldest_ms = now_ms
    for message in messages:
        context = read_context(message.headers or (), int(message.timestamp * 1000))
        oldest_ms = min(oldest_ms, context.received_at)
        if context.client_time is not None:
            clock_skew.observe(abs(context.received_at - context.client_time) / 1000)
    raw_messages.inc(len(messages))
    repeated_requests.inc(repeats)
    events_in.inc(events)
    for kind, count in by_type.items():
        records_out.labels(type=kind).inc(count)
    for reason, count in by_reason.items():
        dead_letters_out.labels(reason=reason).inc(count)
    batch_messages.observe(len(messages))
    batch_events.observe(events)
    batch_seconds.observe(delivered_at - taken_at)
    end_to_end_age.observe(max(0.0, now_ms - oldest_ms) / 1000)


def totals(counter: Counter) -> dict[str, float]:
    """A counter's current values by its (single) label value; ``""`` for an unlabelled one."""
    values: dict[str, float] = {}
    for family in counter.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                values[next(iter(sample.labels.values()), "")] = sample.value
    return values


def consumer_lag() -> dict[TP, int]:
    """Messages not yet read, per partition assigned to this worker: the end offset minus the
    next offset to read (the last one read + 1, else the committed one); none for an
    ingress-only worker, which has no consumer."""
    if not settings.role.processes:
        return {}
    consumer = app.consumer
    monitor = app.monitor
    lag: dict[TP, int] = {}
    for tp in consumer.assignment():
        try:
            end = consumer.highwater(tp)
        except Exception:  # not fetched yet, or the partition is being revoked
            continue
        read = monitor.tp_read_offsets.get(tp)
        position = read + 1 if read is not None else monitor.tp_committed_offsets.get(tp)
        if end is None or position is None:
            continue
        lag[tp] = max(0, end - position)
    return lag


class ConsumerLag(Collector):
    """``statsig_stream_consumer_lag``, computed when scraped."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            f"{PREFIX}_consumer_lag",
            "Messages in an assigned partition not yet read by this worker",
            labels=["topic", "partition"],
        )
        if app.started and app.consumer is not None:
            for tp, behind in sorted(consumer_lag().items()):
                family.add_metric([tp.topic, str(tp.partition)], behind)
        yield family


class StreamMonitor(PrometheusMonitor):
    """Faust's Prometheus sensor, plus HTTP requests counted per route (not per raw path,
    which would make a series per event name) and status."""

    def on_web_request_end(
        self,
        app: faust.types.AppT,
        request: web.Request,
        response: web.Response | None,
        state: dict[Any, Any],
        *,
        view: web.View | None = None,
    ) -> None:
        super().on_web_request_end(app, request, response, state, view=view)
        route = getattr(getattr(request, "match_info", None), "route", None)
        resource = getattr(route, "resource", None)
        path = getattr(resource, "canonical", None) or "unmatched"
        http_requests.labels(path=path, status=str(int(state["status_code"]))).inc()


class EnrichmentCaches(Collector):
    """``statsig_stream_enrichment_cache_lookups_total``, read from the core's caches when
    scraped: the core counts its own hits and misses, at no cost per event."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            f"{PREFIX}_enrichment_cache_lookups",
            "Lookups in the enrichment's caches of distinct ip and userAgent strings, by result",
            labels=["cache", "result"],
        )
        for cache, (hits, misses) in sorted(lookup_cache_counts().items()):
            family.add_metric([cache, "hit"], hits)
            family.add_metric([cache, "miss"], misses)
        yield family


class CommitSafety(Collector):
    """What the checkpoint (``agents/kafka/checkpoint.py``) held back, read when scraped: how
    often Faust would have committed past an undelivered record, records of an older fetch
    dropped after a seek, and partitions read again from a stranded record."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, text, value in (
            (
                "commit_passes_prevented",
                "Commits Faust computed past a record whose output was not acknowledged",
                checkpoint.passes_prevented,
            ),
            (
                "stale_records_dropped",
                "Records fetched before a seek of their partition, not delivered after it",
                checkpoint.stale_records_dropped,
            ),
            (
                "stranded_refetches",
                "Partitions read again from a record fetched but never delivered",
                checkpoint.refetches,
            ),
        ):
            family = CounterMetricFamily(f"{PREFIX}_{name}", text)
            family.add_metric([], value)
            yield family


REGISTRY.register(ConsumerLag())
REGISTRY.register(EnrichmentCaches())
REGISTRY.register(CommitSafety())
# Faust's metrics under a fixed prefix, not the app id: dashboards work whatever APP_ID is.
app.monitor = StreamMonitor(metrics=FaustMetrics.create(REGISTRY, "faust"))


@app.page("/metrics")
class Metrics(web.View):
    """``GET /metrics``: the Prometheus text exposition of this worker."""

    async def get(self, request: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        response = AiohttpResponse(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
        return response  # type: ignore[return-value]
