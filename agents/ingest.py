"""The ingest agent: raw requests in, per-type records and dead letters out, at least once
(or exactly once, ``PROCESSING_GUARANTEE``)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Sequence

import faust
from faust.types import EventT

from agents.app import EXACTLY_ONCE, app, barrier, checkpoint, settings
from agents.batches import events_by_partition
from agents.changelog import OneInFlight, deliver_changes
from agents.dedup import WINDOW_MS, first_deliveries, remember
from agents.kafka.delivery import Outgoing, deliver
from agents.kafka.transactions import transactional_id
from agents.metrics import partial_messages
from agents.observability import observe_batch
from agents.topics import dead_letters, declare_output_topics, events_by_type, raw_events
from processor import EventType, ProcessedRequest, load_lookup_data, process_request

log = logging.getLogger(__name__)

_TOPIC_NAMES = {kind: topic.get_topic_name() for kind, topic in events_by_type.items()}
_DEAD_LETTER_TOPIC = dead_letters.get_topic_name()
_TYPE_HEADERS = {kind: [("statsig-event-type", kind.value.encode())] for kind in EventType}
checkpoint.track(raw_events.get_topic_name())
#: At least once: the dedup changes of a batch, delivered while the next batch is processed.
_changes = OneInFlight()


def process_message(message: faust.types.Message) -> ProcessedRequest:
    """One raw Kafka message through the pure core."""
    return process_request(
        message.value or b"",
        message.headers or (),
        int(message.timestamp * 1000),
        settings.processor,
        origin={"topic": message.topic, "partition": message.partition, "offset": message.offset},
    )


def outgoing(results: Iterable[ProcessedRequest]) -> list[Outgoing]:
    """The Kafka messages a batch produces: records keyed by unit id, dead letters by reason."""
    messages: list[Outgoing] = []
    for result in results:
        for record in result.records:
            messages.append(
                Outgoing(
                    _TOPIC_NAMES[record.type], record.key, record.value, _TYPE_HEADERS[record.type]
                )
            )
        for letter in result.dead_letters:
            messages.append(
                Outgoing(
                    _DEAD_LETTER_TOPIC,
                    letter.key,
                    letter.value,
                    [("statsig-dead-letter-reason", letter.reason.value.encode())],
                )
            )
    return messages


async def deliver_batch(
    stream: faust.StreamT[bytes], events: Sequence[EventT], transaction: str | None
) -> None:
    """Process raw messages, deliver what they make (in ``transaction``, exactly once), then
    remember their identities and book them delivered once the table's changelog has them
    (at least once, while the next batch is processed): only then may their offsets be
    committed. A repeat of a request delivered within the dedup window emits nothing."""
    taken_at = time.monotonic()
    results = [process_message(event.message) for event in events]
    now_ms = int(time.time() * 1000)
    firsts = first_deliveries(events, results, now_ms) if WINDOW_MS else None
    emitted = [
        (event, result)
        for index, (event, result) in enumerate(zip(events, results, strict=True))
        if firsts is None or firsts[index]
    ]
    emitted_results = [result for _, result in emitted]
    metrics = partial_messages([(event.message.headers or (), result) for event, result in emitted])
    await deliver(
        app.producer, outgoing(emitted_results) + metrics, settings.send_retries, transaction
    )
    taken = [(event.message.tp, event.message.offset) for event in events]
    if not WINDOW_MS:
        checkpoint.delivered(taken)
    else:
        changes = remember(stream, [event for event, _ in emitted], emitted_results, now_ms)
        if transaction is None:
            booked = functools.partial(checkpoint.delivered, taken)
            await _changes.send(app, changes, settings.send_retries, booked)
        else:  # in the partition's transaction, before the barrier lets a commit through
            await deliver_changes(app, changes, settings.send_retries, transaction)
            checkpoint.delivered(taken)
    observe_batch(
        [event.message for event, _ in emitted],
        emitted_results,
        taken_at,
        repeats=len(events) - len(emitted),
    )


@app.agent(raw_events)
async def ingest(stream: faust.StreamT[bytes]) -> None:
    """Take raw messages in batches and deliver them, at least once; exactly once, each raw
    partition's part of a batch in that partition's transaction."""
    await declare_output_topics()
    if settings.processor.enrich:
        load_lookup_data()
    async for events in stream.take_events(
        settings.ingest_batch_size, within=settings.ingest_batch_seconds
    ):
        try:
            if not EXACTLY_ONCE:
                async with barrier.delivering():
                    await deliver_batch(stream, events, None)
                continue
            for taken in events_by_partition(events).values():
                async with barrier.delivering():
                    tid = transactional_id(app, taken[0].message.tp)
                    await deliver_batch(stream, taken, tid)
        except Exception as exc:
            # Restarting only this agent could let Faust commit past the lost batch: stop the
            # worker instead, uncommitted, so the batch is read again on restart.
            log.critical("ingest batch failed; stopping the worker uncommitted: %r", exc)
            await app.crash(exc)
            raise
