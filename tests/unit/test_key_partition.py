"""The delivery's cached key hashes place every key where aiokafka's default partitioner does."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from agents.kafka import delivery
from agents.kafka.delivery import KEY_HASHES_HELD, key_partition

_partitioner = DefaultPartitioner()


@given(
    keys=st.lists(st.binary(min_size=0, max_size=64), min_size=1, max_size=50),
    count=st.integers(min_value=1, max_value=64),
)
def test_a_key_lands_where_the_default_partitioner_puts_it(keys: list[bytes], count: int) -> None:
    partitions = list(range(count))
    for _ in range(2):  # hashed, then from the cache
        for key in keys:
            assert key_partition(key, partitions) == _partitioner(key, partitions, partitions)


@pytest.mark.parametrize(
    ("key", "partition"),
    [(b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742)],
)
def test_the_java_clients_placements(key: bytes, partition: int) -> None:
    """Placements among 1,000 partitions that Kafka's Java partitioner gives these keys."""
    assert key_partition(key, list(range(1000))) == partition


def test_the_cache_stays_bounded() -> None:
    for number in range(KEY_HASHES_HELD + 10):
        key_partition(number.to_bytes(4, "big"), [0, 1, 2, 3])
    assert len(delivery._KEY_HASHES) <= KEY_HASHES_HELD
