"""The pure event core: decode, validate, classify, correct skew, timeUUID, encode. No I/O."""

from processor.classify import EventType, classify
from processor.ingest import DEFAULT_CONFIG, ProcessorConfig, process_request
from processor.reasons import DeadLetterReason
from processor.records import DeadLetterRecord, ExposureKey, OutputRecord, ProcessedRequest

__all__ = [
    "DEFAULT_CONFIG",
    "DeadLetterReason",
    "DeadLetterRecord",
    "EventType",
    "ExposureKey",
    "OutputRecord",
    "ProcessedRequest",
    "ProcessorConfig",
    "classify",
    "process_request",
]
