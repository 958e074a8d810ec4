"""The official Python server SDK (``pip install statsig``) sending to a worker, as a program.

Run as ``python -m tests.integration.statsig_sdk_client CONFIG_JSON``. It runs in a process of
its own because the SDK keeps global state and background threads, and so that its clock can
be set back (``clock_offset_ms``) for everything it does: event times and the
STATSIG-CLIENT-TIME header alike, like a machine whose clock is wrong.

The SDK gets its gates and configs from ``bootstrap_values`` (there is no Statsig server here)
and sends its events to the worker through ``api_for_log_event``, the one option a team
changes to point its event logging at this service. Name lookups of any host but this one are
refused, so the SDK's other calls to Statsig's servers (ID lists, error reports) fail at once
instead of leaving the machine.

Prints one JSON object: the status of every flush the SDK reported. ``ip`` and
``user_agent``, when given, are set on every user, as a server relaying browsers' requests sets
them.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

GATE = "new_checkout"
CONFIG = "checkout_copy"
RULE = "rule-everyone"

#: Download-config-specs of one gate and one dynamic config, both passing for everyone.
SPECS = {
    "has_updates": True,
    "time": 1_700_000_000_000,
    "feature_gates": [
        {
            "name": GATE,
            "type": "feature_gate",
            "entity": "feature_gate",
            "salt": "gate-salt",
            "enabled": True,
            "defaultValue": False,
            "idType": "userID",
            "rules": [
                {
                    "name": RULE,
                    "id": RULE,
                    "groupName": "everyone",
                    "salt": "rule-salt",
                    "passPercentage": 100,
                    "returnValue": True,
                    "idType": "userID",
                    "conditions": [{"type": "public"}],
                }
            ],
        }
    ],
    "dynamic_configs": [
        {
            "name": CONFIG,
            "type": "dynamic_config",
            "entity": "dynamic_config",
            "salt": "config-salt",
            "enabled": True,
            "defaultValue": {"headline": "Checkout"},
            "idType": "userID",
            "rules": [
                {
                    "name": RULE,
                    "id": RULE,
                    "groupName": "everyone",
                    "salt": "rule-salt",
                    "passPercentage": 100,
                    "returnValue": {"headline": "Pay now"},
                    "idType": "userID",
                    "conditions": [{"type": "public"}],
                }
            ],
        }
    ],
    "layer_configs": [],
}


def _loopback_only() -> None:
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: only loopback in this test")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def _set_clock_back(offset_ms: int) -> None:
    real_time = time.time
    time.time = lambda: real_time() - offset_ms / 1000  # type: ignore[assignment]


def main(config: dict[str, Any]) -> dict[str, Any]:
    _loopback_only()
    _set_clock_back(config["clock_offset_ms"])
    # Imported after the patches, so that the SDK sees them wherever it looks the time up.
    from statsig import StatsigEvent, StatsigOptions, StatsigUser, statsig
    from statsig.evaluation_details import DataSource

    flushes: list[dict[str, Any]] = []

    def on_flush(success: bool, events: list[Any], status: int | None, error: Any) -> None:
        flushes.append({"success": success, "events": len(events), "status": status})

    options = StatsigOptions(
        api_for_log_event=config["api"],
        bootstrap_values=json.dumps(SPECS),
        initialize_sources=[DataSource.BOOTSTRAP],
        config_sync_sources=[DataSource.BOOTSTRAP],
        rulesets_sync_interval=3600,
        idlists_sync_interval=3600,
        disable_diagnostics=True,
        disable_ua_parser=True,
        disable_country_lookup=True,
        events_flushed_callback=on_flush,
    )
    details = statsig.initialize(config["key"], options)
    results: dict[str, Any] = {"init_source": str(details.source), "checks": {}}
    for user_id in config["users"]:
        user = StatsigUser(
            user_id,
            ip=config.get("ip"),
            user_agent=config.get("user_agent"),
            custom={"plan": "pro"},
            private_attributes={"ssn": "0000"},
        )
        results["checks"][user_id] = {
            "gate": statsig.check_gate(user, GATE),
            "config": statsig.get_config(user, CONFIG).get("headline"),
        }
        statsig.log_event(
            StatsigEvent(user, "add_to_cart", value=12.5, metadata={"sku": f"sku-{user_id}"})
        )
    if config.get("flush_first"):
        # One flush now, then shutdown's: a retryable failure of the first is queued again and
        # resent by the second, as the SDK's background flush would resend it later.
        statsig.flush()
    statsig.shutdown()  # flushes every queued event, waiting for the answers
    results["flushes"] = flushes
    return results


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
