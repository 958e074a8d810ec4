"""The checkpoint commits only past records whose output was delivered, whatever else happens."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.kafka.checkpoint import Checkpoint

TP = ("raw", 0)
OWNER = object()


def booked(position: int = 0) -> Checkpoint:
    checkpoint = Checkpoint()
    checkpoint.track("raw")
    checkpoint.seeked(TP, position, owner=OWNER)
    return checkpoint


def test_a_partition_starts_at_the_position_it_was_reset_to() -> None:
    assert booked(40).committable(TP) == 40
    assert not booked(40).advanced(TP)  # nothing new to commit
    assert Checkpoint().committable(TP) is None


def test_delivered_records_move_the_frontier_to_the_clients_position() -> None:
    checkpoint = booked(50)
    checkpoint.fetched(TP, [50, 51, 52, 53], position=54)
    checkpoint.delivered([(TP, offset) for offset in (50, 51, 52, 53)])
    assert checkpoint.committable(TP) == 54
    assert checkpoint.advanced(TP)


def test_an_undelivered_head_holds_the_commit_however_many_follow_it() -> None:
    """faust-streaming #606: committed 50, 51-53 done, 50 still in flight: nothing past 50."""
    checkpoint = booked(50)
    checkpoint.fetched(TP, [50, 51, 52, 53], position=54)
    checkpoint.delivered([(TP, 51), (TP, 52), (TP, 53)])
    assert checkpoint.committable(TP) == 50
    checkpoint.delivered([(TP, 50)])
    assert checkpoint.committable(TP) == 54


def test_offsets_the_client_stepped_over_are_no_records_to_wait_for() -> None:
    """Transaction markers and compacted records leave holes that a fetch steps over."""
    checkpoint = booked(10)
    checkpoint.fetched(TP, [10, 12, 15], position=17)
    checkpoint.delivered([(TP, 10), (TP, 12)])
    assert checkpoint.committable(TP) == 15
    checkpoint.delivered([(TP, 15)])
    assert checkpoint.committable(TP) == 17


def test_records_not_yet_fetched_are_never_committed() -> None:
    checkpoint = booked(0)
    checkpoint.delivered([(TP, 0), (TP, 1)])  # delivered, but this run never fetched them
    assert checkpoint.committable(TP) == 0
    checkpoint.fetched(TP, [0, 1], position=2)
    assert checkpoint.committable(TP) == 2


def test_a_seek_back_keeps_what_was_delivered_and_refetches_the_rest() -> None:
    checkpoint = booked(0)
    checkpoint.fetched(TP, list(range(10)), position=10)
    checkpoint.delivered([(TP, offset) for offset in range(5)])
    checkpoint.seeked(TP, 0, owner=OWNER)  # Faust seeks back to the committed offset
    assert checkpoint.committable(TP) == 5
    stale_run = 0
    assert checkpoint.is_stale(TP, stale_run)
    checkpoint.delivered([(TP, 7)])  # a record of the old fetch, delivered after the seek
    checkpoint.fetched(TP, list(range(10)), position=10)
    assert checkpoint.committable(TP) == 5
    checkpoint.delivered([(TP, 5), (TP, 6), (TP, 8), (TP, 9)])
    assert checkpoint.committable(TP) == 10


def test_a_seek_forward_skips_on_purpose() -> None:
    """aiokafka resets past records deleted by retention: nothing below is read any more."""
    checkpoint = booked(0)
    checkpoint.fetched(TP, [0, 1], position=2)
    checkpoint.seeked(TP, 100, owner=OWNER)
    assert checkpoint.committable(TP) == 100


def test_a_new_assignment_forgets_the_previous_one() -> None:
    checkpoint = booked(0)
    checkpoint.fetched(TP, [0, 1, 2], position=3)
    checkpoint.delivered([(TP, 1), (TP, 2)])
    checkpoint.seeked(TP, 30, owner=object())
    assert checkpoint.committable(TP) == 30
    assert not checkpoint.is_stale(TP, checkpoint.run_of(TP))


def test_a_record_lost_before_the_agent_is_reported_as_a_stall() -> None:
    checkpoint = booked(0)
    checkpoint.fetched(TP, [0, 1, 2, 3], position=4)
    checkpoint.delivered([(TP, 1), (TP, 2), (TP, 3)])
    assert checkpoint.stalls(30, now=100.0) == []  # first seen
    assert checkpoint.stalls(30, now=120.0) == []
    [stall] = checkpoint.stalls(30, now=131.0)
    assert (stall.partition, stall.offset, stall.seconds) == (TP, 0, 31.0)
    checkpoint.delivered([(TP, 0)])
    assert checkpoint.stalls(30, now=200.0) == []


def test_records_in_flight_in_order_are_no_stall() -> None:
    checkpoint = booked(0)
    checkpoint.fetched(TP, [0, 1, 2, 3], position=4)
    checkpoint.delivered([(TP, 0), (TP, 1)])
    assert checkpoint.stalls(30, now=0.0) == []
    assert checkpoint.stalls(30, now=1000.0) == []


# A model of a partition: a log of records with holes, a client reading it in fetches from its
# position, seeks back to the frontier (as Faust seeks to the committed offset), and agents
# delivering any subset of what was fetched, in any order, stale records included.
_step = st.one_of(
    st.tuples(st.just("fetch"), st.integers(1, 12)),
    st.tuples(st.just("deliver"), st.integers(0, 10_000)),
    st.tuples(st.just("seek"), st.integers(0, 10)),
)


@settings(max_examples=300, deadline=None)
@given(
    log=st.sets(st.integers(0, 120), min_size=1),
    steps=st.lists(_step, max_size=60),
)
def test_the_frontier_never_passes_an_undelivered_record(
    log: set[int], steps: list[tuple[str, int]]
) -> None:
    records = sorted(log)
    end = records[-1] + 1
    checkpoint = booked(0)
    position = 0
    fetched: list[int] = []
    delivered: set[int] = set()
    for action, amount in steps:
        if action == "fetch" and position < end:
            upto = min(end, position + amount)
            batch = [r for r in records if position <= r < upto]
            checkpoint.fetched(TP, batch, position=upto)
            fetched += batch
            position = upto
        elif action == "deliver" and fetched:
            offset = fetched[amount % len(fetched)]
            delivered.add(offset)
            checkpoint.delivered([(TP, offset)])
        elif action == "seek":
            frontier = checkpoint.committable(TP)
            assert frontier is not None
            position = max(0, frontier - amount)
            checkpoint.seeked(TP, position, owner=OWNER)
        frontier = checkpoint.committable(TP)
        assert frontier is not None
        undelivered = [r for r in records if r < frontier and r not in delivered]
        assert undelivered == [], (frontier, undelivered)
    # Liveness: once every record is fetched again and delivered, the frontier reaches the end.
    checkpoint.seeked(TP, checkpoint.committable(TP) or 0, owner=OWNER)
    start = checkpoint.committable(TP) or 0
    checkpoint.fetched(TP, [r for r in records if r >= start], position=end)
    checkpoint.delivered([(TP, r) for r in records])
    assert checkpoint.committable(TP) == end
