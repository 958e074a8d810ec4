"""The named hostile corpus never raises out of the core and ends as the corpus says."""

from __future__ import annotations

from collections import Counter

import pytest

from processor import process_request
from tests.hostile_corpus import CORPUS, HostileInput


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_hostile_input_ends_as_records_and_dead_letters_by_reason(case: HostileInput) -> None:
    result = process_request(case.body, case.headers, 1_700_000_000_000)
    assert len(result.records) == case.records
    assert Counter(letter.reason.value for letter in result.dead_letters) == case.dead_letters
    for output in (*result.records, *result.dead_letters):
        # An error may name the path of a broken privateAttributes; its contents never appear.
        assert b'"privateAttributes":' not in output.value


def test_every_hostile_input_has_an_identity_of_its_own() -> None:
    """Two different unreadable requests must not share an identity: the dedup window would take
    the second for a repeat of the first and emit nothing for it (one lost dead letter)."""
    identities = [process_request(case.body, case.headers, 0).identity for case in CORPUS]
    assert all(len(identity) == 16 for identity in identities)
    assert len(set(identities)) == len(CORPUS)
