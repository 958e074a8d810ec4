"""``make run-worker``: the worker, on the configured broker or on an embedded one."""

from __future__ import annotations

import json
import os
import sys

from agents.json_logs import json_logging_config
from agents.kafka.embedded_broker import EmbeddedBroker
from agents.settings import Settings
from agents.web.auth import DEVELOPMENT_KEYS


def _banner(lines: list[str], as_json: bool) -> None:
    if as_json:
        entry = {"level": "INFO", "logger": __name__, "message": "worker starting", "lines": lines}
        print(json.dumps(entry), file=sys.stderr, flush=True)
        return
    width = max(len(line) for line in lines)
    print("+" + "-" * (width + 2) + "+", file=sys.stderr)
    for line in lines:
        print(f"| {line.ljust(width)} |", file=sys.stderr)
    print("+" + "-" * (width + 2) + "+", file=sys.stderr, flush=True)


def _key_lines(settings: Settings) -> list[str]:
    keys = settings.api_keys
    if not keys.development:
        return [f"keys:   {len(keys)} API keys configured: {', '.join(keys.key_ids)}"]
    return [
        "keys:   no API_KEYS configured: the development keys work (on loopback only)",
        *(f"        {key}" for key in DEVELOPMENT_KEYS.values()),
    ]


def _run_worker(settings: Settings, broker_line: str, as_json: bool) -> None:
    from agents.app import app  # imported only now: the app reads KAFKA_BROKER at import

    if as_json:
        app.conf.logging_config = json_logging_config()
    _banner(
        [
            f"broker: {broker_line}",
            f"http:   http://{settings.web_host}:{settings.web_port}/",
            f"topics: {settings.topic_prefix}events.raw -> "
            f"{settings.topic_prefix}events.{{exposure,custom,config_change,diagnostic,invalid}}",
            f"events: POST http://{settings.web_host}:{settings.web_port}/v1/log_event "
            "(also /v1/rgstr, /v1/webhooks/event_webhook; spec at /openapi.yaml)",
            *_key_lines(settings),
        ],
        as_json,
    )
    app.main()


def _log_format() -> str:
    """LOG_FORMAT: ``text`` (Faust's coloured lines, the default) or ``json`` (an object a line)."""
    value = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
    if value not in ("text", "json"):
        raise SystemExit(f"LOG_FORMAT must be text or json, not {value!r}")
    return value


def main() -> None:
    settings = Settings.from_env()
    as_json = _log_format() == "json"
    # --quiet: no banner table on stdout, whose lines would not be JSON.
    argv = [sys.argv[0], *(["--quiet"] if as_json else [])]
    argv += ["worker", "--loglevel", os.environ.get("LOG_LEVEL", "info")]
    sys.argv = argv
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.broker_configured:
        _run_worker(settings, f"{settings.broker} (KAFKA_BROKER)", as_json)
        return
    log_path = settings.data_dir / "embedded-broker.log"
    with EmbeddedBroker(port=settings.embedded_broker_port, log_path=log_path) as broker:
        os.environ["KAFKA_BROKER"] = broker.url
        _run_worker(
            settings,
            f"embedded Tansu at {broker.url}, memory only, stops with the worker (log: {log_path})",
            as_json,
        )


if __name__ == "__main__":
    main()
