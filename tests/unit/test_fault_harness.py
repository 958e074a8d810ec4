"""The fault harness must be able to fail: a lost output, an inexact repeat or a run that
could not be accounted each make a failed run."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from aiokafka import ConsumerRecord

from faults.__main__ import _attempt
from faults.ledger import account, expected_outputs
from faults.scenarios import QUICK, Run, Scenario
from processor import ProcessorConfig, process_request
from processor.samples import sample_requests

RAW = "fault.events.raw"


def _raw(bodies: list[bytes]) -> list[ConsumerRecord[bytes, bytes]]:
    now = int(time.time() * 1000)
    return [
        ConsumerRecord(RAW, 0, offset, now, 0, None, body, None, 0, len(body), [])
        for offset, body in enumerate(bodies)
    ]


def _outputs(raw: list[ConsumerRecord[bytes, bytes]]) -> list[ConsumerRecord[bytes, bytes]]:
    """What a worker makes of ``raw``, as records read back from the output topics."""
    out: list[ConsumerRecord[bytes, bytes]] = []
    for message in raw:
        origin = {"topic": message.topic, "partition": message.partition, "offset": message.offset}
        result = process_request(
            message.value or b"", (), message.timestamp, ProcessorConfig(), origin=origin
        )
        made = [(f"fault.events.{r.type.value}", r.value) for r in result.records]
        made += [("fault.events.invalid", letter.value) for letter in result.dead_letters]
        for topic, value in made:
            out.append(ConsumerRecord(topic, 0, len(out), 0, 0, None, value, None, 0, 0, []))
    return out


def test_a_complete_output_with_exact_repeats_is_ok() -> None:
    raw = _raw(sample_requests(3, 5, seed=1, now_ms=int(time.time() * 1000)))
    outputs = _outputs(raw)
    copies = [
        ConsumerRecord(o.topic, 1, o.offset, 0, 0, None, bytes(bytearray(o.value)), None, 0, 0, [])
        for o in outputs[:4]
    ]
    repeated = [*outputs, *copies]
    outcome = account(raw, repeated, sent=[m.value for m in raw])
    assert outcome.ok
    assert (outcome.expected, outcome.lost, outcome.duplicates) == (len(outputs), 0, 4)


def test_a_missing_output_is_named_by_its_raw_message() -> None:
    raw = _raw(sample_requests(3, 5, seed=2, now_ms=int(time.time() * 1000)))
    outputs = _outputs(raw)
    origin = expected_outputs(raw)
    dropped = outputs[7]
    partition, offset, _ = next(
        where for identity, where in origin.items() if identity[1] in dropped.value.decode()
    )
    outcome = account(raw, [o for o in outputs if o is not dropped])
    assert not outcome.ok
    assert outcome.lost == 1
    assert outcome.lost_requests == [(partition, offset, 1)]


def test_a_repeat_that_differs_fails_the_run() -> None:
    raw = _raw(sample_requests(2, 5, seed=3, now_ms=int(time.time() * 1000)))
    outputs = _outputs(raw)
    first = outputs[0]
    altered = ConsumerRecord(
        first.topic, 0, 99, 0, 0, None, first.value.replace(b"}", b" }", 1), None, 0, 0, []
    )
    outcome = account(raw, [*outputs, altered])
    assert outcome.inexact_duplicates == 1
    assert not outcome.ok


def test_tables_short_of_the_events_fail_the_run() -> None:
    raw = _raw(sample_requests(2, 5, seed=4, now_ms=int(time.time() * 1000)))
    outputs = _outputs(raw)
    names = Counter(n for _, _, n in expected_outputs(raw).values() if n is not None)
    short = names.copy()
    short[next(iter(short))] -= 1
    assert account(raw, outputs, counted=names).ok
    outcome = account(raw, outputs, counted=short)
    assert (outcome.counted_short, outcome.ok) == (1, False)


def test_a_run_that_raises_is_a_failed_run_with_its_logs(tmp_path: Path) -> None:
    (tmp_path / "worker-0.log").write_text("ConsistencyError\n")

    def crashed(*_: object) -> Run:
        raise ConnectionRefusedError("the surviving worker's web port")

    run = _attempt(Scenario("crash", "raises", crashed), None, tmp_path, QUICK, 1)  # type: ignore[arg-type]
    assert not run.ok
    assert "ConnectionRefusedError" in run.error
    assert run.logs == [tmp_path / "worker-0.log"]
