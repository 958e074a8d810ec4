"""``python -m bench.baseline_app worker``: the ingest work written the idiomatic Faust way.

The yardstick of the e2e section: the shape Faust's tutorials teach, on the same input as the
worker. ``async for`` over the stream, one raw message at a time; ``process_request`` per
message; one awaited ``topic.send()`` per output record; one windowed table increment per
event (event counts by name, 60 s tumbling windows of the message time, kept an hour). Faust's
defaults everywhere else.

It reads the same environment variables as the worker (broker, app id, prefix, port, data
directory, processor limits), writes the per-type topics of its own ``TOPIC_PREFIX``, and
reads the raw topic named by ``BASELINE_RAW_TOPIC`` (default: its prefix's ``events.raw``),
so that it can run on the worker's input.
"""

from __future__ import annotations

import os

import faust

from agents.settings import Settings
from bench import probe
from processor import EventType, process_request

settings = Settings.from_env()

app = faust.App(
    settings.app_id,
    broker=settings.broker,
    store="memory://",
    datadir=str(settings.data_dir / settings.app_id),
    topic_partitions=settings.topic_partitions,
    web_host=settings.web_host,
    web_port=settings.web_port,
    key_serializer="raw",
    value_serializer="raw",
    broker_session_timeout=settings.session_timeout,
    broker_rebalance_timeout=settings.rebalance_timeout,
)


def _topic(name: str) -> faust.TopicT:
    return app.topic(name, internal=True, partitions=settings.topic_partitions)


raw_requests = _topic(os.environ.get("BASELINE_RAW_TOPIC") or f"{settings.topic_prefix}events.raw")
by_type = {kind: _topic(f"{settings.topic_prefix}events.{kind.value}") for kind in EventType}
invalid = _topic(f"{settings.topic_prefix}events.invalid")

event_counts = (
    app.Table("event_counts", default=int, partitions=settings.topic_partitions)
    .tumbling(60, expires=3600)
    .relative_to_stream()
)


@app.agent(raw_requests)
async def ingest(stream: faust.StreamT[bytes]) -> None:
    for topic in (*by_type.values(), invalid):
        await topic.maybe_declare()
    async for body in stream:
        message = stream.current_event.message  # type: ignore[union-attr]
        result = process_request(
            body or b"",
            message.headers or (),
            int(message.timestamp * 1000),
            settings.processor,
            origin={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
            },
        )
        for record in result.records:
            await by_type[record.type].send(
                key=record.key,
                value=record.value,
                headers=[("statsig-event-type", record.type.value.encode())],
            )
            event_counts[record.event_name] += 1
        for letter in result.dead_letters:
            await invalid.send(
                key=letter.key,
                value=letter.value,
                headers=[("statsig-dead-letter-reason", letter.reason.value.encode())],
            )


if __name__ == "__main__":
    probe.install(app)
    app.main()
