"""The Events API over HTTP: SDK requests onto the raw topic, as sent, once the broker has them.

``POST /v1/log_event``, ``/v1/rgstr`` (newer client SDKs' name for it) and
``/v1/webhooks/event_webhook`` authenticate the key, check what a client must hear about at
once (size, client time, and that the body is an ingestion request at all: inflated under the
worker's cap and its envelope decoded with the worker's own types), stamp the transport headers
of DESIGN §2 and produce the body untouched to the raw topic. Everything else about the events
is the ingest agent's business: a bad event becomes a dead letter there, not an HTTP error.

Both ways SDKs send a key are accepted: the ``statsig-api-key`` header (server SDKs, legacy
client SDKs) and the query of ``@statsig/js-client``, which sends ``k`` (key), ``st``/``sv``
(SDK type and version), ``t`` (client time) and ``gz=1`` (gzip body) so that browsers need no
CORS preflight.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, NamedTuple, cast

import msgspec
from aiohttp import web
from aiokafka.errors import MessageSizeTooLargeError  # type: ignore[import-untyped]
from faust.types.web import ResourceOptions
from faust.web import Request, Response, View

from agents.app import app, settings
from agents.topics import raw_events
from agents.web.auth import ApiKey, ApiKeys
from processor.context import (
    CLIENT_TIME,
    CONTENT_ENCODING,
    KEY_ID,
    RECEIVED_AT,
    SDK_TYPE,
    SDK_VERSION,
    SOURCE,
)
from processor.decompress import BodyEncodingError, BodyTooLargeError, decompress_body
from processor.schemas import RequestEnvelope
from processor.timeuuid import request_identity

log = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")
KEY_HEADER = "statsig-api-key"
KEY_PARAM = "k"
CLIENT_TIME_HEADER = "statsig-client-time"
CLIENT_TIME_PARAM = "t"
SUPPORTED_ENCODINGS = ("identity", "gzip", "x-gzip", "deflate")
_READ_CHUNK = 64 * 1024

#: Digits, optionally with a fraction: the Ruby and .NET SDKs send fractional milliseconds.
_CLIENT_TIME = re.compile(r"^[0-9]{1,18}(?:\.[0-9]*)?$")
_envelope_decoder = msgspec.json.Decoder(RequestEnvelope)


class RequestRejected(Exception):
    """The request gets an error status and nothing reaches the raw topic."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(status: int, message: str) -> dict[str, object]:
    """Seed 000's Error shape."""
    return {"message": message, "status": status}


def authenticate(keys: ApiKeys, headers: Mapping[str, str], query: Mapping[str, str]) -> ApiKey:
    """The key of the ``statsig-api-key`` header (any letter case) or of the ``k`` parameter."""
    presented = headers.get(KEY_HEADER) or query.get(KEY_PARAM)
    if not presented:
        raise RequestRejected(
            401, f"missing API key: send it in the {KEY_HEADER} header or the ?{KEY_PARAM}= query"
        )
    key = keys.identify(presented)
    if key is None:
        raise RequestRejected(401, "unknown API key")
    return key


def client_time(value: str | None, name: str) -> int | None:
    """The client's clock in whole ms, or None when the client did not send it."""
    if value is None:
        return None
    text = value.strip()
    if not _CLIENT_TIME.match(text):
        raise RequestRejected(
            400,
            f"{name} must be an integer count of milliseconds since the epoch, not {text!r:.60}",
        )
    return int(text.split(".", 1)[0])


def content_encoding(header: str | None, gzip_flag: str | None) -> str:
    """The body's encoding: the Content-Encoding header, else ``gz=1`` of the JS client."""
    encoding = (header or "").strip().lower()
    if not encoding:
        encoding = "gzip" if gzip_flag == "1" else "identity"
    if encoding not in SUPPORTED_ENCODINGS:
        raise RequestRejected(
            415, f"unsupported content-encoding {encoding!r:.40}: send gzip, deflate or identity"
        )
    return encoding


class IngestionBody(NamedTuple):
    payload: bytes
    """The body inflated: what the request's identity is taken over (DESIGN §3)."""
    events: int


def check_ingestion_body(body: bytes, encoding: str, max_bytes: int) -> IngestionBody:
    """The inflated body and event count of a body the worker can read as a request; raise
    otherwise.

    Inflating stops at ``max_bytes`` (the worker's own cap), so a compression bomb costs at
    most that much; the envelope decode leaves every event as raw bytes.
    """
    if not body:
        raise RequestRejected(400, 'the request has no body: send {"events": [...]}')
    try:
        payload = decompress_body(body, encoding, max_bytes)
    except BodyTooLargeError as exc:
        raise RequestRejected(413, str(exc)) from None
    except BodyEncodingError as exc:
        raise RequestRejected(400, f"body is not valid {encoding}: {exc}") from None
    try:
        envelope = _envelope_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise RequestRejected(400, f"not an ingestion request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise RequestRejected(400, f"body is not JSON: {exc}") from None
    except RecursionError:
        raise RequestRejected(400, "body is not JSON: nested too deeply to be read") from None
    if not envelope.events:
        raise RequestRejected(400, "`events` is empty: send at least one event")
    return IngestionBody(payload, len(envelope.events))


def raw_headers(
    *,
    received_at: int,
    client_time_ms: int | None,
    encoding: str,
    source: str,
    sdk_type: str | None,
    sdk_version: str | None,
    key_id: str,
) -> list[tuple[str, bytes]]:
    """The Kafka headers of DESIGN §2 for one request; never the key itself."""
    headers = [
        (RECEIVED_AT, str(received_at).encode()),
        (CONTENT_ENCODING, encoding.encode()),
        (SOURCE, source.encode()),
        (KEY_ID, key_id.encode()),
    ]
    if client_time_ms is not None:
        headers.append((CLIENT_TIME, str(client_time_ms).encode()))
    if sdk_type:
        headers.append((SDK_TYPE, sdk_type.encode("utf-8", "replace")))
    if sdk_version:
        headers.append((SDK_VERSION, sdk_version.encode("utf-8", "replace")))
    return headers


async def read_body(request: Request, limit: int) -> bytes:
    """The body as sent, refused with 413 as soon as it passes ``limit`` bytes."""
    too_large = RequestRejected(413, f"request body exceeds the limit of {limit} bytes")
    http = cast(web.Request, request)  # the aiohttp request under Faust's view
    declared = http.content_length
    if declared is not None and declared > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := await http.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def produce_raw(body: bytes, identity: bytes, headers: list[tuple[str, bytes]]) -> None:
    """Produce one raw message and return once the broker acknowledged it. Keyed by the
    request's identity, every repeat of a request lands on one partition, whose worker's dedup
    window knows it."""
    topic = raw_events.get_topic_name()
    acked = await app.producer.send(topic, identity, body, None, None, headers)
    # A caller that stops waiting (the ack timeout) must not cancel the producer's own future.
    await asyncio.shield(acked)


class EventsView(View):
    """One ingestion endpoint; subclasses name the source they stamp."""

    source: ClassVar[str]
    server_secrets_only: ClassVar[bool] = False

    async def post(self, request: Request) -> Response:
        received_at = time.time_ns() // 1_000_000
        try:
            body, identity, headers = await self._accept(request, received_at)
        except RequestRejected as rejected:
            return self.json(error_body(rejected.status, rejected.message), status=rejected.status)
        try:
            # asyncio.timeout, not wait_for: no task per request (produce_raw shields the ack).
            async with asyncio.timeout(settings.http_ack_timeout):
                await produce_raw(body, identity, headers)
        except MessageSizeTooLargeError:
            message = "request body is larger than the event broker accepts"
            return self.json(error_body(413, message), status=413)
        except Exception as exc:  # any failure to get the ack: the client must retry
            log.warning("raw message not acknowledged (%s); answering 503: %r", self.source, exc)
            message = "the event broker did not acknowledge the request; retry later"
            return self.json(error_body(503, message), status=503, headers={"Retry-After": "1"})
        return self.json({"success": True}, status=202)

    async def _accept(
        self, request: Request, received_at: int
    ) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """Check the request; return its body, its identity and the headers of its raw message.

        (One view object serves every request of its route: no request state on ``self``.)
        """
        query = request.query
        key = authenticate(settings.api_keys, request.headers, query)
        if self.server_secrets_only and not key.server_secret:
            raise RequestRejected(401, f"{self.source} requests need a server secret key")
        header_time = request.headers.get(CLIENT_TIME_HEADER)
        sent_at = (
            client_time(header_time, "STATSIG-CLIENT-TIME")
            if header_time is not None
            else client_time(query.get(CLIENT_TIME_PARAM), f"the {CLIENT_TIME_PARAM} parameter")
        )
        encoding = content_encoding(request.headers.get("content-encoding"), query.get("gz"))
        body = await read_body(request, settings.http_max_request_bytes)
        checked = check_ingestion_body(body, encoding, settings.processor.max_body_bytes)
        identity = request_identity(key.key_id, checked.payload)
        return (
            body,
            identity,
            raw_headers(
                received_at=received_at,
                client_time_ms=sent_at,
                encoding=encoding,
                source=self.source,
                sdk_type=request.headers.get("statsig-sdk-type") or query.get("st"),
                sdk_version=request.headers.get("statsig-sdk-version") or query.get("sv"),
                key_id=key.key_id,
            ),
        )


if not settings.role.processes:

    @app.task
    async def declare_raw_topic() -> None:
        """An ingress-only worker has no agent on the raw topic, which Faust would declare:
        create it with the worker's partitions rather than leave it to the broker's defaults."""
        await raw_events.maybe_declare()


def _cors(*methods: str) -> dict[str, ResourceOptions]:
    options = ResourceOptions(
        allow_credentials=False, allow_headers="*", allow_methods=list(methods), max_age=3600
    )
    return {origin: options for origin in settings.cors_origins}


@app.page("/v1/log_event", cors_options=_cors("POST"))
class LogEvent(EventsView):
    """``POST /v1/log_event``: events from server and client SDKs."""

    source = "log_event"


@app.page("/v1/rgstr", cors_options=_cors("POST"))
class Register(EventsView):
    """``POST /v1/rgstr``: the same call under the name newer client SDKs use."""

    source = "rgstr"


@app.page("/v1/webhooks/event_webhook", cors_options=_cors("POST"))
class EventWebhook(EventsView):
    """``POST /v1/webhooks/event_webhook``: events from other systems, with a server secret."""

    source = "webhook"
    server_secrets_only = True


@app.page("/openapi.yaml", cors_options=_cors("GET"))
class OpenApiDocument(View):
    """``GET /openapi.yaml``: the OpenAPI 3.1 description of this HTTP API."""

    document: ClassVar[bytes] = OPENAPI_PATH.read_bytes()

    async def get(self, request: Request) -> Response:
        return self.bytes(self.document, content_type="application/yaml")
