"""API keys from configuration: named and bare entries, the file, the development keys, and
errors that never repeat a key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.web.auth import (
    DEVELOPMENT_KEYS,
    ApiKey,
    ApiKeyConfigError,
    ApiKeys,
    key_id_of,
    load_api_keys,
    parse_entries,
)


def test_named_entries_use_their_name_and_bare_ones_a_hash_of_the_key() -> None:
    keys = parse_entries(["web=client-abc", "secret-xyz"], "API_KEYS")
    assert keys == {"web": "client-abc", key_id_of("secret-xyz"): "secret-xyz"}
    assert key_id_of("secret-xyz").startswith("key-")
    assert len(key_id_of("secret-xyz")) == len("key-") + 12
    assert "xyz" not in key_id_of("secret-xyz")


def test_a_key_is_identified_by_its_id_and_kind() -> None:
    keys = ApiKeys({"backend": "secret-one", "web": "client-two"})
    assert keys.identify("secret-one") == ApiKey("backend", server_secret=True)
    assert keys.identify(" client-two ") == ApiKey("web", server_secret=False)
    assert keys.identify("secret-three") is None
    assert keys.identify("") is None
    assert "secret-one" not in repr(keys)


def test_env_and_file_entries_are_merged(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    file.write_text("# production keys\nbackend=secret-backend  # the API servers\n\nsecret-bare\n")
    keys = load_api_keys("web=client-web, ios=client-ios\nsecret-env", str(file), "0.0.0.0")
    assert not keys.development
    assert keys.key_ids == tuple(
        sorted(["web", "ios", key_id_of("secret-env"), "backend", key_id_of("secret-bare")])
    )
    assert keys.identify("secret-backend") == ApiKey("backend", server_secret=True)


def test_without_configured_keys_the_development_keys_work_on_loopback_only() -> None:
    for host in ("127.0.0.1", "localhost", "::1"):
        keys = load_api_keys("", "", host)
        assert keys.development
        for key_id, key in DEVELOPMENT_KEYS.items():
            assert keys.identify(key) is not None
            assert keys.identify(key).key_id == key_id  # type: ignore[union-attr]
    with pytest.raises(ApiKeyConfigError, match="API_KEYS") as refused:
        load_api_keys("", "", "0.0.0.0")
    assert not any(key in str(refused.value) for key in DEVELOPMENT_KEYS.values())


@pytest.mark.parametrize(
    ("entries", "complaint"),
    [
        ("web=console-abc123", "must start with 'secret-'"),
        ("abc123", "must start with 'secret-'"),
        ("web=secret-has space", "must start with"),  # the entry splits: 'space' has no prefix
        ("web=secret-abc!123", "only letters, digits"),
        ("=secret-abc123", "a key name is"),
        ("web=secret-abc123,web=client-def456", "used twice"),
    ],
)
def test_broken_entries_are_refused_without_repeating_the_key(entries: str, complaint: str) -> None:
    with pytest.raises(ApiKeyConfigError, match=complaint) as refused:
        load_api_keys(entries, "", "127.0.0.1")
    assert "abc123" not in str(refused.value)
    assert "def456" not in str(refused.value)


def test_a_missing_key_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ApiKeyConfigError, match="cannot be read"):
        load_api_keys("", str(tmp_path / "absent"), "127.0.0.1")
