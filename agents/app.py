"""The one Faust app. Modules that declare topics, agents, views and commands register on it."""

from __future__ import annotations

import faust
from faust.app.base import BootStrategy

from agents.changelog import CollectingTable
from agents.kafka import library_fixes
from agents.kafka.checkpoint import Checkpoint
from agents.kafka.listed_topic import ListedTopic
from agents.kafka.transactions import CommitBarrier
from agents.settings import ProcessingGuarantee, Settings

settings = Settings.from_env()
#: What the agents delivered: the only source of the offsets the worker commits.
checkpoint = Checkpoint()
EXACTLY_ONCE = settings.processing_guarantee is ProcessingGuarantee.EXACTLY_ONCE
#: Exactly once: commits wait for the batches being delivered (agents.kafka.transactions).
barrier = CommitBarrier()

app = faust.App(
    settings.app_id,
    broker=settings.broker,
    store=settings.store,
    datadir=str(settings.data_dir / settings.app_id),
    topic_partitions=settings.topic_partitions,
    topic_replication_factor=settings.topic_replicas,
    web_host=settings.web_host,
    web_port=settings.web_port,
    # The Events API produces request bodies as sent and inflates them itself under a cap:
    # aiohttp must not inflate them first (it would, without a cap, by default).
    web_application_options={"handler_args": {"auto_decompress": False}},
    key_serializer="raw",
    value_serializer="raw",
    # The embedded broker rejects idempotent and transactional producers: exactly once is for
    # Apache Kafka (the settings refuse it without KAFKA_BROKER).
    processing_guarantee=settings.processing_guarantee.value,
    # Every write waits for all in-sync replicas (TOPIC_MIN_INSYNC_REPLICAS of them at least):
    # records, dead letters, partials, changelogs, and what HTTP ingress and the CLI produce.
    producer_acks=-1,
    producer_linger_ms=1,
    producer_max_batch_size=1024 * 1024,
    broker_commit_every=10_000,
    broker_commit_interval=1.0,
    # Declaring a topic waits until the brokers list it: Kafka would otherwise assign before
    # they know the new topics (agents/kafka/listed_topic.py).
    Topic=ListedTopic,
    # A batch's table changes go to their changelogs together (agents/changelog.py).
    Table=CollectingTable,
    broker_session_timeout=settings.session_timeout,
    broker_rebalance_timeout=settings.rebalance_timeout,
)

if not settings.role.processes:
    # WORKER_ROLE=ingress: Faust's boot strategy without the consumer, its leader assignor and
    # tables, so the process joins no consumer group (it would be given raw partitions there).
    app.boot_strategy = BootStrategy(app, enable_kafka_consumer=False)

# Registration: each module declares its part of the app at import.
library_fixes.install(
    app, checkpoint, barrier, settings.fetch_max_wait_ms, consumes=settings.role.processes
)

from agents import commands, heap, observability  # noqa: E402, F401
from agents.web import status  # noqa: E402, F401

if settings.role.processes:
    from agents import ingest, metrics  # noqa: F401
    from agents.web import console, metrics_views  # noqa: F401
if settings.role.serves_events_api:
    from agents.web import ingress  # noqa: F401

from agents.topics import configure_changelogs  # noqa: E402

configure_changelogs(app.tables.values())
