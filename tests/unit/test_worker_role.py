"""WORKER_ROLE: one process does everything by default; ingress and processing can run apart."""

from __future__ import annotations

import pytest

from agents.settings import SettingError, Settings, WorkerRole
from tests.unit.fresh_process import start_refusal


@pytest.mark.parametrize(
    ("raw", "role", "serves", "processes"),
    [
        ("", WorkerRole.ALL, True, True),
        ("all", WorkerRole.ALL, True, True),
        ("Ingress", WorkerRole.INGRESS, True, False),
        ("process", WorkerRole.PROCESS, False, True),
    ],
)
def test_the_role_says_what_the_process_runs(
    monkeypatch: pytest.MonkeyPatch, raw: str, role: WorkerRole, serves: bool, processes: bool
) -> None:
    monkeypatch.setenv("WORKER_ROLE", raw)
    settings = Settings.from_env()
    assert settings.role is role
    assert (settings.role.serves_events_api, settings.role.processes) == (serves, processes)


def test_an_unknown_role_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_ROLE", "web")
    with pytest.raises(SettingError, match="WORKER_ROLE must be one of all, ingress, process"):
        Settings.from_env()


def test_the_worker_refuses_an_unknown_role_at_start() -> None:
    last = start_refusal(WORKER_ROLE="both")
    assert last == "refusing to start: WORKER_ROLE must be one of all, ingress, process, not 'both'"
