"""The Console events API (seed 004): the most recent events of each event name.

``GET /console/v1/events/{eventName}?page=&limit=`` answers in the Console API's shape, from a
bounded table of recent events per name (``CONSOLE_EVENTS_PER_NAME``, most recently received
first). The ingest agent picks each batch's newest events per name (:func:`recent_items`); the
metric agent, which owns the name's partition (``processor.metrics.key_partition``), prepends
them to the table (:func:`remember`), so one partition writes each name.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import quote

import msgspec
from faust.web import Request, Response, View

from agents.app import app, settings
from agents.web.routing import local_partitions, read_from_owners
from processor import OutputRecord, ProcessedRequest
from processor.context import Headers, read_context
from processor.metrics import key_partition

_PATH = "/console/v1/events/"
_MESSAGE = "Event values listed successfully."
DEFAULT_LIMIT = 100


class ConsoleItem(msgspec.Struct, frozen=True, omit_defaults=True):
    """One event as the Console API lists it (seed 004): every field a string."""

    timestamp: str
    name: str
    source: str
    value: str
    userID: str
    metadata: dict[str, str]
    country: str | None = None
    """The record's ``enrichment.country``, when known; absent otherwise."""


class _Enrichment(msgspec.Struct, frozen=True):
    country: str | None = None


class _StatsigMetadata(msgspec.Struct, frozen=True):
    sdkType: Any = None


_sdk_type_decoder = msgspec.json.Decoder(_StatsigMetadata)
_enrichment_decoder = msgspec.json.Decoder(_Enrichment)
_items_encoder = msgspec.msgpack.Encoder()
_items_decoder = msgspec.msgpack.Decoder(list[ConsoleItem])

#: eventName -> msgpack list of ConsoleItem, newest first, at most CONSOLE_EVENTS_PER_NAME.
console_events = app.Table("console-events", partitions=settings.topic_partitions, value_type=bytes)


def _decoded_once(
    decoded: dict[int, Any], raw: msgspec.Raw, decode: Callable[[msgspec.Raw], Any]
) -> Any:
    """``decode(raw)``, once per batch for each object: ``decoded`` holds it by object id (the
    batch's records hold the object while the batch is built, so no id is reused meanwhile)."""
    value = decoded.get(id(raw))
    if value is None:
        value = decoded[id(raw)] = decode(raw)
    return value


def _item(record: OutputRecord, source: str, decoded: dict[int, Any]) -> ConsoleItem:
    """The record's Console item, read from the record as built. Its still encoded parts (a
    request's own ``statsigMetadata``, a user's enrichment) are shared by many events: each is
    decoded once per batch."""
    event = record.event
    metadata = event.statsigMetadata
    if isinstance(metadata, dict):
        sdk_type = metadata.get("sdkType")
    else:
        sdk_type = _decoded_once(decoded, metadata, _sdk_type_decoder.decode).sdkType
    country = None
    if event.enrichment is not None:
        country = _decoded_once(decoded, event.enrichment, _enrichment_decoder.decode).country
    return ConsoleItem(
        timestamp=str(record.timestamp),
        name=record.event_name,
        source=sdk_type if isinstance(sdk_type, str) and sdk_type else source,
        value=event.value,
        userID=event.userID or "",
        metadata=event.metadata,
        country=country,
    )


def recent_items(
    batch: Iterable[tuple[Headers, ProcessedRequest]], bound: int
) -> dict[str, list[ConsoleItem]]:
    """The batch's last ``bound`` records of each event name, newest first, as Console items.

    Only the records kept are decoded, so a busy name costs ``bound`` decodes per batch.
    ``source`` is the event's SDK type, else the request's ``statsig-source`` header.
    """
    if bound <= 0:
        return {}
    kept: dict[str, deque[tuple[OutputRecord, int]]] = {}
    requests: list[Headers] = []
    for headers, result in batch:
        index = len(requests)
        requests.append(headers)
        for record in result.records:
            recent = kept.get(record.event_name)
            if recent is None:
                recent = kept[record.event_name] = deque(maxlen=bound)
            recent.append((record, index))
    sources: dict[int, str] = {}
    decoded: dict[int, Any] = {}
    items: dict[str, list[ConsoleItem]] = {}
    for name, recent in kept.items():
        listed = []
        for record, index in reversed(recent):
            source = sources.get(index)
            if source is None:
                source = sources[index] = read_context(requests[index], 0).source
            listed.append(_item(record, source, decoded))
        items[name] = listed
    return items


def remember(name: str, newest: Sequence[ConsoleItem], bound: int) -> None:
    """Prepend a batch's items to the name's list; call from the partition that owns the name."""
    held = console_events.get(name)
    older = _items_decoder.decode(held) if held is not None else []
    console_events[name] = _items_encoder.encode([*newest, *older][:bound])


def _positive(request: Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"`{name}` must be a positive integer, not {raw!r}")
    return int(raw)


def console_page(name: str, items: Sequence[Any], page: int, limit: int) -> dict[str, Any]:
    """Seed 004's response: one page of items and relative links to its neighbours."""
    base = _PATH + quote(name, safe="")
    total = len(items)
    first = (page - 1) * limit
    return {
        "message": _MESSAGE,
        "data": list(items[first : first + limit]),
        "pagination": {
            "itemsPerPage": limit,
            "pageNumber": page,
            "totalItems": total,
            "nextPage": f"{base}?page={page + 1}&limit={limit}" if first + limit < total else None,
            "previousPage": f"{base}?page={page - 1}&limit={limit}" if page > 1 else None,
            "all": base,
        },
    }


def _local_items(name: str, partitions: set[int]) -> list[Any]:
    if key_partition((name,), settings.topic_partitions) not in partitions:
        return []
    held = console_events.get(name)
    return msgspec.to_builtins(_items_decoder.decode(held)) if held is not None else []


@app.page(_PATH + "{eventName}")
class ConsoleEvents(View):
    """``GET /console/v1/events/{eventName}``: the name's recent events, newest first."""

    async def get(self, request: Request, eventName: str) -> Response:
        try:
            page = _positive(request, "page", 1)
            limit = _positive(request, "limit", DEFAULT_LIMIT)
        except ValueError as exc:
            return self.json({"message": str(exc)}, status=400)
        asked = local_partitions(request)
        if asked is not None:
            return self.json(_local_items(eventName, asked))
        partition = key_partition((eventName,), settings.topic_partitions)
        answers = await read_from_owners(
            request, {partition}, lambda held: _local_items(eventName, held)
        )
        if answers is None:
            return self.json({"message": "the event's partition has no owner yet"}, status=503)
        items = [item for answer in answers for item in answer]
        return self.json(console_page(eventName, items, page, limit))
