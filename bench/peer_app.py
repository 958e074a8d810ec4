"""``python -m bench.peer_app``: the ingest job as a user choosing Quix Streams would write it.

The peer of the worker in the ``peer`` section: raw requests in; one JSON record per event,
with the field names of the per-type topics (DESIGN §4), to ``<prefix>events.<type>``; dead
letters to ``<prefix>events.invalid``; event counts by name in 60 s tumbling windows (Quix's
``group_by`` and windowed ``count``, state in RocksDB with its changelog). Its transform is its
own, plain Python over the decoded JSON: skew rounded to the second, times clamped to the
arrival, a version-1 timeUUID of the corrected time (random low bits, where the worker derives
them from the event). Quix's defaults everywhere else (at least once, commits every 5 s).

The bench learns its progress through Quix's ``on_message_processed``: a thread writes, every
0.1 s, the probe file of ``bench.probe`` (per topic: first message, messages processed, last).
Configured by ``PEER_*`` environment variables (see ``main``).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.models import TopicConfig

EXPOSURES = {
    "statsig::gate_exposure",
    "statsig::config_exposure",
    "statsig::experiment_exposure",
    "statsig::layer_exposure",
}
TYPES = ("exposure", "custom", "config_change", "diagnostic")
_UUID_EPOCH_TICKS = 0x01B21DD213814000
"""100 ns ticks from 1582-10-15 (the UUID epoch) to 1970-01-01."""


def event_type(name: str) -> str:
    if name in EXPOSURES:
        return "exposure"
    if name == "statsig::config_change":
        return "config_change"
    return "diagnostic" if name.startswith("statsig::") else "custom"


def unit_id(user: dict[str, Any], metadata: dict[str, Any]) -> tuple[str, str] | None:
    """(id type, value): the userID, else a custom id (stableID first), else the SDK's."""
    if user.get("userID"):
        return "userID", str(user["userID"])
    custom = user.get("customIDs") or {}
    for name in sorted(custom, key=lambda name: name != "stableID"):
        if custom[name]:
            return name, str(custom[name])
    if metadata.get("stableID"):
        return "stableID", str(metadata["stableID"])
    return None


def time_uuid(ms: int) -> str:
    ticks = ms * 10_000 + _UUID_EPOCH_TICKS
    return str(
        uuid.UUID(
            fields=(
                ticks & 0xFFFFFFFF,
                (ticks >> 32) & 0xFFFF,
                (ticks >> 48) & 0x0FFF | 0x1000,
                0x80 | random.getrandbits(6),
                random.getrandbits(8),
                random.getrandbits(48) | 1 << 40,
            )
        )
    )


def text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def outputs(body: bytes, key: Any, timestamp: int, headers: Any) -> Iterator[dict[str, Any]]:
    """The records and dead letters of one raw request."""
    stamped = {name: value.decode() for name, value in headers or ()}
    received = int(stamped.get("statsig-received-at", timestamp))
    client = stamped.get("statsig-client-time")
    skew = round((received - int(client)) / 1000) * 1000 if client else 0
    try:
        request = json.loads(body)
        events = request["events"] if isinstance(request, dict) else request
    except (ValueError, KeyError, TypeError) as exc:
        yield {"reason": "invalid_json", "error": str(exc), "headers": stamped}
        return
    top_user = request.get("user") if isinstance(request, dict) else None
    sdk = (request.get("statsigMetadata") if isinstance(request, dict) else None) or {}
    for index, event in enumerate(events):
        name = event.get("eventName") if isinstance(event, dict) else None
        user = dict((event.get("user") if isinstance(event, dict) else None) or top_user or {})
        user.pop("privateAttributes", None)
        kind = event_type(name) if isinstance(name, str) and 0 < len(name) <= 256 else None
        unit = unit_id(user, sdk)
        if kind is None or (unit is None and kind in ("exposure", "custom")):
            reason = "invalid_event" if kind is None else "missing_unit_id"
            yield {"reason": reason, "index": index, "headers": stamped, "event": event}
            continue
        sent = int(event.get("time") or client or received)
        corrected = sent + skew
        if corrected > received + 1000:  # cannot have happened after it arrived
            corrected = received
        record = {
            "eventName": name,
            "user": user,
            "userID": user.get("userID"),
            "timestamp": corrected,
            "value": "" if event.get("value") is None else text(event["value"]),
            "metadata": {k: text(v) for k, v in (event.get("metadata") or {}).items()},
            "statsigMetadata": sdk,
            "timeUUID": event.get("timeUUID") or time_uuid(corrected),
            "clientTimestamp": sent,
            "receivedAt": received,
            "clockSkewMs": skew,
        }
        if kind == "exposure":
            record["unitID"] = unit[0] if unit else None
            if "secondaryExposures" in event:
                record["secondaryExposures"] = event["secondaryExposures"]
        yield record


def unit_key(output: dict[str, Any]) -> str | None:
    """The key of an output: the record's unit id value (dead letters have none)."""
    if "reason" in output:
        return None
    unit = unit_id(output["user"], output["statsigMetadata"])
    return unit[1] if unit else None


class Progress:
    """Per topic: when the first message was processed, how many, when the last."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self.first_in: dict[str, float] = {}
        self.out: dict[str, int] = {}
        self.last_out: dict[str, float] = {}
        threading.Thread(target=self._write_every_tenth_second, daemon=True).start()

    def processed(self, topic: str, partition: int, offset: int) -> None:
        now = time.time()
        self.first_in.setdefault(topic, now)
        self.out[topic] = self.out.get(topic, 0) + 1
        self.last_out[topic] = now

    def _write_every_tenth_second(self) -> None:
        while True:
            time.sleep(0.1)
            state = {"first_in": self.first_in, "out": self.out, "last_out": self.last_out}
            partial = self._path.with_suffix(".tmp")
            partial.write_text(json.dumps({**state, "history": {}}))
            partial.replace(self._path)


def main() -> None:
    prefix = os.environ["PEER_TOPIC_PREFIX"]
    config = TopicConfig(num_partitions=int(os.environ["PEER_PARTITIONS"]), replication_factor=1)
    app = Application(
        broker_address=os.environ["PEER_BOOTSTRAP"],
        consumer_group=os.environ["PEER_GROUP"],
        auto_offset_reset="earliest",
        state_dir=os.environ["PEER_STATE_DIR"],
        on_message_processed=Progress(Path(os.environ["PEER_PROGRESS_PATH"])).processed,
    )
    raw = app.topic(os.environ["PEER_RAW_TOPIC"], value_deserializer="bytes")

    def output_topic(name: str) -> Any:
        return app.topic(name, key_serializer="str", value_serializer="json", config=config)

    by_type = {kind: output_topic(f"{prefix}events.{kind}") for kind in TYPES}
    invalid = output_topic(f"{prefix}events.invalid")

    def destination(output: dict[str, Any], key: Any, timestamp: int, headers: Any) -> Any:
        return invalid if "reason" in output else by_type[event_type(output["eventName"])]

    sdf = app.dataframe(raw)
    sdf = sdf.apply(outputs, metadata=True, expand=True)
    sdf = sdf.to_topic(destination, key=unit_key)
    sdf = sdf.filter(lambda output: "reason" not in output)
    sdf = sdf.group_by("eventName")
    sdf = sdf.tumbling_window(timedelta(minutes=1)).count().final()
    app.run()


if __name__ == "__main__":
    main()
