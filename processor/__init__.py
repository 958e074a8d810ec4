"""The pure event core: decode, validate, classify, fix skew, timeUUID, enrich, encode. No I/O."""

from processor.classify import EventType, classify
from processor.config import DEFAULT_CONFIG, ProcessorConfig
from processor.enrichment import load_lookup_data, lookup_cache_counts
from processor.ingest import process_request
from processor.ip_addresses import IpAnonymization
from processor.reasons import DeadLetterReason
from processor.records import DeadLetterRecord, ExposureKey, OutputRecord, ProcessedRequest

__all__ = [
    "DEFAULT_CONFIG",
    "DeadLetterReason",
    "DeadLetterRecord",
    "EventType",
    "ExposureKey",
    "IpAnonymization",
    "OutputRecord",
    "ProcessedRequest",
    "ProcessorConfig",
    "classify",
    "load_lookup_data",
    "lookup_cache_counts",
    "process_request",
]
