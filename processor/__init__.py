"""The pure event core: decode, validate, classify, correct skew, timeUUID, encode. No I/O."""

from processor.classify import EventType, classify
from processor.config import DEFAULT_CONFIG, ProcessorConfig
from processor.ingest import process_request
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
