"""How long the worker's fetches wait for data: ``FETCH_MAX_WAIT_MS`` (Faust fixes it at 1.5 s).

Kafka answers a fetch as soon as data arrives, so there the wait only spaces out an idle
consumer's polls. The embedded broker holds every fetch for the whole wait even when records
arrive meanwhile, so there the wait adds straight to each record's latency. The default stays
Faust's 1.5 s: see the README (Configuration) for what a short wait changed under kill -9.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from agents.app import settings

_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer


def _with_fetch_wait(self: AIOKafkaConsumerThread, transport: Any) -> aiokafka.AIOKafkaConsumer:
    consumer = _create_worker_consumer(self, transport)
    # Read when the consumer starts and builds its fetcher; Faust passes no way to set it.
    consumer._fetch_max_wait_ms = settings.fetch_max_wait_ms
    return consumer


AIOKafkaConsumerThread._create_worker_consumer = _with_fetch_wait  # type: ignore[method-assign]
