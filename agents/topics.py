"""The topics of DESIGN §1, named by the configured prefix, created at start with our partitions."""

from __future__ import annotations

from collections.abc import Iterable

import faust
from faust.types import CollectionT

from agents.app import app, settings
from agents.kafka.listed_topic import COPARTITIONED
from processor import EventType


def topic_name(suffix: str) -> str:
    return f"{settings.topic_prefix}{suffix}"


def _declared(suffix: str) -> faust.TopicT:
    # internal=True makes Faust create the topic with our partition count instead of relying on
    # broker auto-creation, which may pick another count or be disabled.
    return app.topic(
        topic_name(suffix),
        internal=True,
        partitions=settings.topic_partitions,
        config=settings.topic_config(),
    )


raw_events = _declared("events.raw")
COPARTITIONED.add(raw_events.get_topic_name())
events_by_type: dict[EventType, faust.TopicT] = {
    kind: _declared(f"events.{kind.value}") for kind in EventType
}
dead_letters = _declared("events.invalid")
#: Internal: one batch's partial metric aggregates per message, sent to the partition that owns
#: their keys (processor.metrics.key_partition), so each table key has one writing partition.
metric_partials = _declared("metrics.partials")
COPARTITIONED.add(metric_partials.get_topic_name())
#: Final values of closed windows, one JSON record per (metric, key, window).
metric_windows = _declared("metrics.windows")

#: Short names the CLI accepts for the topics a user reads.
OUTPUT_TOPICS: dict[str, faust.TopicT] = {
    **{kind.value: topic for kind, topic in events_by_type.items()},
    "invalid": dead_letters,
    "raw": raw_events,
    "windows": metric_windows,
}


async def declare_output_topics() -> None:
    """Create the topics the worker writes (Faust declares only those it consumes)."""
    for topic in (*events_by_type.values(), dead_letters, metric_partials, metric_windows):
        await topic.maybe_declare()


def configure_changelogs(tables: Iterable[CollectionT]) -> None:
    """Give each table's changelog topic the worker's topic config: Faust creates it with the
    table's ``extra_topic_configs`` only, and has no app-wide topic config."""
    for table in tables:
        changelog = table.changelog_topic
        changelog.config = {**(changelog.config or {}), **settings.topic_config()}
