"""Worker settings, read once from the environment, with defaults that work on a laptop."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from agents.web.auth import ApiKeys, load_api_keys
from processor import IpAnonymization, ProcessorConfig
from processor.metrics import WindowPolicy

EMBEDDED_BROKER_HOST = "127.0.0.1"
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
Choice = TypeVar("Choice", bound=StrEnum)


class SettingError(ValueError):
    """A setting whose value the worker refuses: it does not start."""


class ProcessingGuarantee(StrEnum):
    """PROCESSING_GUARANTEE (DESIGN §6b)."""

    AT_LEAST_ONCE = "at_least_once"
    EXACTLY_ONCE = "exactly_once"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return default if raw in (None, "") else float(raw)


def _str(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in _TRUE + _FALSE:
        raise SettingError(f"{name} must be true or false, not {os.environ[name]!r}")
    return raw in _TRUE


def _choice(name: str, choices: type[Choice], default: Choice) -> Choice:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    try:
        return choices(raw)
    except ValueError:
        allowed = ", ".join(choice.value for choice in choices)
        raise SettingError(f"{name} must be one of {allowed}, not {os.environ[name]!r}") from None


def _guarantee(broker_configured: bool) -> ProcessingGuarantee:
    guarantee = _choice(
        "PROCESSING_GUARANTEE", ProcessingGuarantee, ProcessingGuarantee.AT_LEAST_ONCE
    )
    if guarantee is ProcessingGuarantee.EXACTLY_ONCE and not broker_configured:
        raise SettingError(
            "PROCESSING_GUARANTEE=exactly_once needs a broker with transactions, such as Apache "
            "Kafka; the embedded broker refuses transactional producers. Set KAFKA_BROKER "
            "(`make kafka` starts a local Apache Kafka), or use at_least_once."
        )
    return guarantee


class WorkerRole(StrEnum):
    """WORKER_ROLE: what one worker process does, so that ingress and processing scale apart."""

    ALL = "all"
    """The Events API, the processing agents, their tables and the read API: one process."""
    INGRESS = "ingress"
    """The Events API only: requests onto the raw topic, no consumer group joined."""
    PROCESS = "process"
    """The agents, their tables and the read API; no Events API."""

    @property
    def serves_events_api(self) -> bool:
        return self is not WorkerRole.PROCESS

    @property
    def processes(self) -> bool:
        return self is not WorkerRole.INGRESS


@dataclass(frozen=True)
class Settings:
    """Every knob of the worker; the README's configuration reference lists the same names."""

    broker: str
    """KAFKA_BROKER: Kafka bootstrap URL(s), e.g. kafka://host:9092;kafka://host2:9092."""
    broker_configured: bool
    """False when KAFKA_BROKER is unset: `make run-worker` then starts the embedded broker."""
    embedded_broker_port: int
    """EMBEDDED_BROKER_PORT: loopback port of the embedded broker."""
    role: WorkerRole
    """WORKER_ROLE: all (the default), ingress (Events API only) or process (no Events API)."""
    app_id: str
    """APP_ID: the Faust app id, also the Kafka consumer group."""
    topic_prefix: str
    """TOPIC_PREFIX: prepended to every topic name."""
    topic_partitions: int
    """TOPIC_PARTITIONS: partitions of the topics the worker creates."""
    topic_replicas: int
    """TOPIC_REPLICAS: replication factor of the topics the worker creates."""
    topic_min_insync_replicas: int
    """TOPIC_MIN_INSYNC_REPLICAS: replicas that must have a write before the broker acknowledges
    it (acks=all); set on every topic the worker creates, changelogs included."""
    web_host: str
    """WEB_HOST: interface the HTTP server binds."""
    web_port: int
    """WEB_PORT: port of the HTTP server."""
    api_keys: ApiKeys
    """API_KEYS, API_KEYS_FILE: keys the Events API accepts (development keys when both unset)."""
    http_max_request_bytes: int
    """HTTP_MAX_REQUEST_BYTES: largest Events API request body as sent (compressed or not)."""
    http_ack_timeout: float
    """HTTP_ACK_TIMEOUT_SECONDS: how long a request waits for the broker's ack before a 503."""
    cors_origins: tuple[str, ...]
    """CORS_ORIGINS: browser origins allowed to call the Events API (``*``: any)."""
    store: str
    """TABLE_STORE: Faust table store, memory:// or rocksdb://."""
    data_dir: Path
    """DATA_DIR: where the table store and the embedded broker's log live."""
    ingest_batch_size: int
    """INGEST_BATCH_SIZE: raw messages taken per ingest batch at most."""
    ingest_batch_seconds: float
    """INGEST_BATCH_SECONDS: how long a batch waits to fill before it is processed anyway."""
    session_timeout: float
    """BROKER_SESSION_TIMEOUT: seconds before a silent worker's partitions move to the others."""
    rebalance_timeout: float
    """BROKER_REBALANCE_TIMEOUT: seconds members get to rejoin a rebalance."""
    send_retries: int
    """SEND_RETRIES: attempts to deliver a batch's output before the worker stops uncommitted."""
    fetch_max_wait_ms: int
    """FETCH_MAX_WAIT_MS: longest the broker holds a fetch that has no records to return yet."""
    dedup_window_ms: int
    """DEDUP_WINDOW_SECONDS: a request delivered this recently is not emitted again (0: off)."""
    processing_guarantee: ProcessingGuarantee
    """PROCESSING_GUARANTEE: at_least_once, or exactly_once (transactions: Apache Kafka only)."""
    processor: ProcessorConfig
    """MAX_BODY_BYTES, FUTURE_TOLERANCE_MS, MAX_CLOCK_SKEW_MS, CLOCK_SKEW_GRANULARITY_MS,
    DEAD_LETTER_MAX_ORIGINAL_BYTES, ENRICH (records carry an ``enrichment``), IP_ANONYMIZE
    (none, truncate or drop: how users' ip is written to every output)."""
    metrics_window: WindowPolicy
    """METRICS_WINDOW_SECONDS, METRICS_GRACE_SECONDS, METRICS_RETENTION_SECONDS: tumbling
    windows of the metric tables, how long after its end a window accepts events, and how long
    after its end its values stay readable."""
    metrics_tick_seconds: float
    """METRICS_TICK_SECONDS: how often a worker closes the windows that are due."""
    console_events_per_name: int
    """CONSOLE_EVENTS_PER_NAME: recent events kept per event name for the Console events API."""

    @classmethod
    def from_env(cls) -> Settings:
        defaults = ProcessorConfig()
        broker = os.environ.get("KAFKA_BROKER", "")
        embedded_port = _int("EMBEDDED_BROKER_PORT", 9092)
        web_host = _str("WEB_HOST", "127.0.0.1")
        return cls(
            broker=broker or f"kafka://{EMBEDDED_BROKER_HOST}:{embedded_port}",
            broker_configured=bool(broker),
            embedded_broker_port=embedded_port,
            role=_choice("WORKER_ROLE", WorkerRole, WorkerRole.ALL),
            app_id=_str("APP_ID", "statsig-stream"),
            topic_prefix=os.environ.get("TOPIC_PREFIX", "statsig."),
            topic_partitions=_int("TOPIC_PARTITIONS", 4),
            topic_replicas=_int("TOPIC_REPLICAS", 1),
            topic_min_insync_replicas=_int("TOPIC_MIN_INSYNC_REPLICAS", 1),
            web_host=web_host,
            web_port=_int("WEB_PORT", 6066),
            api_keys=load_api_keys(
                os.environ.get("API_KEYS", ""), os.environ.get("API_KEYS_FILE", ""), web_host
            ),
            http_max_request_bytes=_int("HTTP_MAX_REQUEST_BYTES", 900_000),
            http_ack_timeout=_float("HTTP_ACK_TIMEOUT_SECONDS", 10.0),
            cors_origins=tuple(_str("CORS_ORIGINS", "*").replace(",", " ").split()),
            store=_str("TABLE_STORE", "memory://"),
            data_dir=Path(_str("DATA_DIR", ".data")),
            ingest_batch_size=_int("INGEST_BATCH_SIZE", 500),
            ingest_batch_seconds=_float("INGEST_BATCH_SECONDS", 0.01),
            session_timeout=_float("BROKER_SESSION_TIMEOUT", 10.0),
            rebalance_timeout=_float("BROKER_REBALANCE_TIMEOUT", 10.0),
            send_retries=_int("SEND_RETRIES", 8),
            fetch_max_wait_ms=_int("FETCH_MAX_WAIT_MS", 20),
            dedup_window_ms=round(_float("DEDUP_WINDOW_SECONDS", 300.0) * 1000),
            processing_guarantee=_guarantee(bool(broker)),
            processor=ProcessorConfig(
                max_body_bytes=_int("MAX_BODY_BYTES", defaults.max_body_bytes),
                future_tolerance_ms=_int("FUTURE_TOLERANCE_MS", defaults.future_tolerance_ms),
                max_clock_skew_ms=_int("MAX_CLOCK_SKEW_MS", defaults.max_clock_skew_ms),
                clock_skew_granularity_ms=_int(
                    "CLOCK_SKEW_GRANULARITY_MS", defaults.clock_skew_granularity_ms
                ),
                dead_letter_max_original_bytes=_int(
                    "DEAD_LETTER_MAX_ORIGINAL_BYTES", defaults.dead_letter_max_original_bytes
                ),
                enrich=_bool("ENRICH", defaults.enrich),
                ip_anonymization=_choice(
                    "IP_ANONYMIZE", IpAnonymization, defaults.ip_anonymization
                ),
            ),
            metrics_window=WindowPolicy(
                size_ms=round(_float("METRICS_WINDOW_SECONDS", 60.0) * 1000),
                grace_ms=round(_float("METRICS_GRACE_SECONDS", 300.0) * 1000),
                retention_ms=round(_float("METRICS_RETENTION_SECONDS", 3600.0) * 1000),
            ),
            metrics_tick_seconds=_float("METRICS_TICK_SECONDS", 1.0),
            console_events_per_name=_int("CONSOLE_EVENTS_PER_NAME", 100),
        )

    def __post_init__(self) -> None:
        if not 1 <= self.topic_min_insync_replicas <= self.topic_replicas:
            raise ValueError(
                f"TOPIC_MIN_INSYNC_REPLICAS={self.topic_min_insync_replicas} must be between 1 and "
                f"TOPIC_REPLICAS={self.topic_replicas}: no write could be acknowledged otherwise"
            )

    def topic_config(self) -> dict[str, str]:
        """Kafka topic configuration of every topic the worker creates."""
        return {"min.insync.replicas": str(self.topic_min_insync_replicas)}

    def bootstrap_servers(self) -> list[str]:
        """host:port pairs for clients that take plain bootstrap servers (aiokafka)."""
        return [url.split("://", 1)[-1] for url in self.broker.replace(",", ";").split(";") if url]


SETTING_NAMES = tuple(field.name for field in fields(Settings))
