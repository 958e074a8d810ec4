"""API keys of the Events API: which keys may send events, and the non-secret id of each.

Keys come from ``API_KEYS`` (comma- or whitespace-separated entries) and ``API_KEYS_FILE``
(one entry per line, ``#`` starts a comment). An entry is ``name=key`` or a bare ``key``; the
name, or else a short hash of the key, is the key id that travels with the events
(``statsig-key-id``), so the key itself is never written anywhere. With no key configured the
worker accepts the well-known development keys, and only on a loopback interface.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

SERVER_SECRET_PREFIX = "secret-"
CLIENT_KEY_PREFIX = "client-"

#: The keys ``make run-worker`` accepts when none is configured, by key id.
DEVELOPMENT_KEYS: Mapping[str, str] = {
    "dev-secret": "secret-dev-statsig-stream",
    "dev-client": "client-dev-statsig-stream",
}

_KEY_SHAPE = re.compile(r"^[A-Za-z0-9_-]+$")
_NAME_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_LOOPBACK_HOSTS = {"localhost", "::1"}


class ApiKeyConfigError(ValueError):
    """The key configuration cannot be used; the message never contains a key."""


@dataclass(frozen=True)
class ApiKey:
    """What the worker knows about a key that authenticated a request."""

    key_id: str
    server_secret: bool
    """True for ``secret-`` keys (servers), False for ``client-`` keys (browsers, apps)."""


def key_id_of(key: str) -> str:
    """The id of a key configured without a name: a prefix of its SHA-256, safe to log."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


class ApiKeys:
    """The configured keys, looked up by a digest of the presented key."""

    def __init__(self, keys: Mapping[str, str], *, development: bool = False) -> None:
        """``keys`` maps key id to key."""
        self.development = development
        self._by_digest = {
            _digest(key): ApiKey(key_id, key.startswith(SERVER_SECRET_PREFIX))
            for key_id, key in keys.items()
        }
        self.key_ids = tuple(sorted(keys))

    def identify(self, presented: str) -> ApiKey | None:
        """The key that ``presented`` is, or None for an unknown key."""
        return self._by_digest.get(_digest(presented.strip()))

    def __len__(self) -> int:
        return len(self._by_digest)

    def __repr__(self) -> str:  # never the keys themselves
        return f"ApiKeys(key_ids={self.key_ids!r}, development={self.development})"


def parse_entries(entries: Iterable[str], source: str) -> dict[str, str]:
    """``name=key`` or ``key`` entries as key id -> key; errors name the entry, not the key."""
    keys: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        name, sep, key = entry.strip().rpartition("=")
        name, key = name.strip(), key.strip()
        if not key.startswith((SERVER_SECRET_PREFIX, CLIENT_KEY_PREFIX)):
            raise ApiKeyConfigError(
                f"{source}, entry {number}: a key must start with "
                f"{SERVER_SECRET_PREFIX!r} (server secret) or {CLIENT_KEY_PREFIX!r} (client key)"
            )
        if not _KEY_SHAPE.match(key):
            raise ApiKeyConfigError(
                f"{source}, entry {number}: a key may hold only letters, digits, '-' and '_'"
            )
        if sep and not _NAME_SHAPE.match(name):
            raise ApiKeyConfigError(
                f"{source}, entry {number}: a key name is 1 to 64 letters, digits or '_.:-'"
            )
        key_id = name if sep else key_id_of(key)
        if key_id in keys and keys[key_id] != key:
            raise ApiKeyConfigError(f"{source}, entry {number}: key name {key_id!r} is used twice")
        keys[key_id] = key
    return keys


def _env_entries(value: str) -> list[str]:
    return [entry for entry in re.split(r"[\s,]+", value) if entry]


def _file_entries(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ApiKeyConfigError(f"API_KEYS_FILE {str(path)!r} cannot be read: {exc}") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def load_api_keys(env_value: str, file_path: str, web_host: str) -> ApiKeys:
    """The keys of ``API_KEYS`` and ``API_KEYS_FILE``; the development keys when both are empty.

    The development keys are public, so they are refused on an interface other hosts can reach.
    """
    keys = parse_entries(_env_entries(env_value), "API_KEYS")
    if file_path:
        from_file = parse_entries(_file_entries(Path(file_path)), "API_KEYS_FILE")
        for key_id, key in from_file.items():
            if keys.get(key_id, key) != key:
                raise ApiKeyConfigError(f"key name {key_id!r} is in API_KEYS and API_KEYS_FILE")
            keys[key_id] = key
    if keys:
        return ApiKeys(keys)
    if not is_loopback(web_host):
        raise ApiKeyConfigError(
            f"no API key configured and WEB_HOST={web_host} is reachable from other hosts: "
            "set API_KEYS or API_KEYS_FILE (the development keys are only for loopback)"
        )
    return ApiKeys(DEVELOPMENT_KEYS, development=True)
