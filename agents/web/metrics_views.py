"""HTTP reads of the live metric windows: ``GET /v1/metrics`` and ``GET /v1/metrics/{metric}``.

``/v1/metrics/{metric}`` takes the metric's key fields as filters (``eventName=``; for
``exposure_counts`` any of ``kind=``, ``name=``, ``ruleID=``, ``group=``) and a time range
``from=``/``to=`` (ms; windows that overlap ``[from, to)``). With every key field given the read
asks the one worker that owns the key; otherwise every owner answers for its partitions and the
lists are merged (keys never span partitions, so merging is concatenation).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from faust.web import Request, Response, View

from agents.app import app, settings
from agents.metrics import PARTITIONS, POLICY, open_from, tables
from agents.web.routing import local_partitions, read_from_owners
from processor.metrics import (
    KEY_FIELDS,
    Metric,
    MetricKey,
    Partial,
    key_partition,
    window_record,
)

_decode_partial = msgspec.msgpack.Decoder(Partial).decode


class _Query(msgspec.Struct, frozen=True):
    metric: Metric
    filters: dict[str, str]
    start: int | None
    end: int | None


def _millis(request: Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"`{name}` must be milliseconds since the epoch, not {raw!r}") from None


def _query(request: Request, metric: str) -> _Query:
    try:
        known = Metric(metric)
    except ValueError:
        raise LookupError(metric) from None
    fields = KEY_FIELDS[known]
    filters = {field: request.query[field] for field in fields if field in request.query}
    return _Query(known, filters, _millis(request, "from"), _millis(request, "to"))


def local_windows(query: _Query, partitions: set[int]) -> list[dict[str, Any]]:
    """The live windows of this worker's ``partitions`` that match the query, as JSON objects."""
    fields = KEY_FIELDS[query.metric]
    now = int(time.time() * 1000)
    boundaries = {partition: open_from(partition, now) for partition in partitions}
    owners: dict[MetricKey, int] = {}
    found: list[dict[str, Any]] = []
    for table_key, held in list(tables[query.metric].items()):
        start, *parts = table_key
        key: MetricKey = tuple(parts)
        if any(key[fields.index(field)] != value for field, value in query.filters.items()):
            continue
        if query.start is not None and start + POLICY.size_ms <= query.start:
            continue
        if query.end is not None and start >= query.end:
            continue
        owner = owners.get(key)
        if owner is None:
            owner = owners[key] = key_partition(key, PARTITIONS)
        if owner not in partitions or POLICY.expired(start, now):
            continue
        record = window_record(query.metric, key, start, POLICY.size_ms, _decode_partial(held))
        found.append({**msgspec.to_builtins(record), "closed": start < boundaries[owner]})
    return found


@app.page("/v1/metrics")
class MetricsIndex(View):
    """``GET /v1/metrics``: the metrics, their key fields and the window settings."""

    async def get(self, request: Request) -> Response:
        return self.json(
            {
                "metrics": {metric.value: list(KEY_FIELDS[metric]) for metric in Metric},
                "windowSizeMs": POLICY.size_ms,
                "graceMs": POLICY.grace_ms,
                "retentionMs": POLICY.retention_ms,
            }
        )


@app.page("/v1/metrics/{metric}")
class MetricWindows(View):
    """``GET /v1/metrics/{metric}``: live window values, oldest window first."""

    async def get(self, request: Request, metric: str) -> Response:
        try:
            query = _query(request, metric)
        except LookupError:
            known = sorted(m.value for m in Metric)
            return self.json(
                {"message": f"unknown metric {metric!r}", "metrics": known}, status=404
            )
        except ValueError as exc:
            return self.json({"message": str(exc)}, status=400)
        asked = local_partitions(request)
        if asked is not None:
            return self.json(local_windows(query, asked))
        fields = KEY_FIELDS[query.metric]
        if all(field in query.filters for field in fields):
            key = tuple(query.filters[field] for field in fields)
            partitions = {key_partition(key, settings.topic_partitions)}
        else:
            partitions = set(range(settings.topic_partitions))
        answers = await read_from_owners(
            request, partitions, lambda held: local_windows(query, held)
        )
        if answers is None:
            return self.json({"message": "some partitions have no owner yet; retry"}, status=503)
        windows = sorted(
            (window for answer in answers for window in answer),
            key=lambda window: (window["windowStart"], list(window["key"].values())),
        )
        return self.json(
            {
                "metric": query.metric.value,
                "windowSizeMs": POLICY.size_ms,
                "from": query.start,
                "to": query.end,
                "windows": windows,
            }
        )
