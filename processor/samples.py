"""Realistic ingestion request bodies, for the ``produce`` command and the benchmarks.

Pure and deterministic: everything comes from the ``random.Random`` passed in (or built from
the seed), never from the clock. A body looks like what Statsig SDKs send to
``/v1/log_event`` (seed 001): server SDKs put a user on every event, client SDKs send one
top-level user for the whole request. Event metadata follows the record shapes of seed 003.

Per event, about 55% gate exposures, 15% config, experiment and layer exposures, 25% custom
events, 3% diagnostics and 2% config changes; every event is valid under DESIGN §3.

With ``web=True`` the same users come as browsers' requests bring them (:func:`_web_user`):
each with a public ip of its own (one in ten IPv6) and a full browser agent (a few dozen
distinct ones), and seldom a country of its own: the input of the enrichment's benchmark.
"""

from __future__ import annotations

import ipaddress
import random
import string
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import msgspec

#: The reference "now" when none is given: 2023-11-14T22:13:20Z. A fixed value keeps the
#: output a function of the seed alone; a live producer passes the current time.
DEFAULT_NOW_MS = 1_700_000_000_000
#: Distinct users; activity is skewed towards low indexes, as real traffic is.
USER_POOL_SIZE = 5_000
#: How long an SDK buffers events before it flushes them as one request.
_FLUSH_WINDOW_MS = 10_000

_encode = msgspec.json.Encoder().encode
_BASE62 = string.digits + string.ascii_letters


def _rule_id(rng: random.Random) -> str:
    return "".join(rng.choices(_BASE62, k=22))


def _uuid4(rng: random.Random) -> str:
    bits = rng.getrandbits(128) & ~(0xF << 76) | (0x4 << 76)  # version 4
    bits = bits & ~(0x3 << 62) | (0x2 << 62)  # RFC variant
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _catalogue(names: list[str], rules: int, seed: int) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(name, rule ids) for each entity; a fixed seed keeps the catalogue the same every run."""
    rng = random.Random(seed)
    return tuple(
        (name, ("default", *(_rule_id(rng) for _ in range(rng.randint(1, rules)))))
        for name in names
    )


_GATES = _catalogue(
    [
        "new_checkout_flow", "dark_mode", "beta_search", "one_click_buy", "holiday_banner",
        "show_reviews", "fast_shipping_badge", "recommendations_v2", "chat_support",
        "gift_wrap_option", "loyalty_program", "price_drop_alerts", "mobile_nav_redesign",
        "saved_carts", "guest_checkout", "promo_code_field", "infinite_scroll",
        "video_previews", "wishlist_sharing", "address_autocomplete", "apple_pay",
        "klarna_payments", "size_guide", "live_inventory", "store_pickup",
    ],
    rules=3,
    seed=1,
)  # fmt: skip
_CONFIGS = _catalogue(
    ["homepage_layout", "search_ranking", "shipping_thresholds", "banner_copy", "support_hours",
     "feature_limits", "pricing_tiers", "onboarding_steps"],
    rules=2,
    seed=2,
)  # fmt: skip
_EXPERIMENTS = _catalogue(
    ["checkout_button_color", "free_shipping_threshold", "onboarding_tour", "pricing_page_v3",
     "recommendation_model", "search_autocomplete", "cart_upsell", "email_capture_modal",
     "product_card_layout", "review_sort_order"],
    rules=2,
    seed=3,
)  # fmt: skip
_LAYERS = _catalogue(
    ["checkout_layer", "discovery_layer", "growth_layer", "pricing_layer"], rules=1, seed=4
)
_GROUPS = ("Control", "Test", "Test B")
_REASONS = ("Network", "Network", "Network", "Bootstrap", "Cache", "NetworkNotModified")
_COUNTRIES = (
    "US", "US", "US", "US", "GB", "GB", "DE", "FR", "CA", "CA", "AU", "IN", "BR", "JP", "NL",
    "ES", "IT", "MX", "SE", "PL",
)  # fmt: skip
_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "en_CA", "en_AU", "pt_BR", "ja_JP", "es_ES")
_PLANS = ("free", "free", "basic", "premium", "enterprise")
_DOMAINS = ("example.com", "example.org", "mail.example.net", "corp.example.com")
_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari",
)
#: (agent with ``{}`` for the version, versions, share of web traffic), as browsers send them.
_BROWSER_AGENTS = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{}.0.0.0 Safari/537.36",
        ("118", "119", "120", "121", "122"),
        30,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS {} like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        ("16_6", "17_0", "17_1", "17_2"),
        20,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{}.0.0.0 Mobile Safari/537.36",
        ("119", "120", "121"),
        15,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/{} Safari/605.1.15",
        ("16.6", "17.0", "17.1"),
        10,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/{}.0.0.0 Safari/537.36",
        ("120", "121"),
        8,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/{0}.0.0.0 Safari/537.36 Edg/{0}.0.0.0",
        ("119", "120"),
        7,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{0}.0) Gecko/20100101 Firefox/{0}.0",
        ("120", "121"),
        5,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/{}.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        ("23", "24"),
        5,
    ),
)
_AGENT_WEIGHTS = tuple(weight for _, _, weight in _BROWSER_AGENTS)
#: First octets of wholly public IPv4 space: each private, shared, loopback, link-local,
#: documentation, benchmark, multicast or reserved range starts with an octet left out.
_PUBLIC_FIRST_OCTETS = tuple(
    octet for octet in range(1, 224) if octet not in (10, 100, 127, 169, 172, 192, 198, 203)
)
_SERVER_SDKS = (("node-server", "5.12.0"), ("py-server", "0.32.0"), ("java-server", "1.15.0"))
_CLIENT_SDKS = (("js-client", "4.20.0"), ("react-native", "4.14.0"), ("ios-client", "1.33.0"))
_PAGES = ("/", "/search", "/cart", "/checkout", "/account", "/deals", "/help")
_CONFIG_TYPES = (("Gate", _GATES), ("Experiment", _EXPERIMENTS), ("DynamicConfig", _CONFIGS))
_CONFIG_ACTIONS = ("created", "updated", "updated", "updated", "deleted")
_DIAGNOSTIC_KEYS = ("overall", "initialize", "bootstrap", "download_config_specs")


@lru_cache(maxsize=USER_POOL_SIZE)
def _user(index: int) -> dict[str, Any]:
    """The user with this index: the same fields every time it appears (do not mutate)."""
    rng = random.Random(index)
    user: dict[str, Any] = {}
    anonymous = rng.random() < 0.05  # a logged-out visitor: only a stable device id
    if not anonymous:
        user["userID"] = f"user_{index:05d}"
        if rng.random() < 0.6:
            user["email"] = f"shopper{index}@{rng.choice(_DOMAINS)}"
    if rng.random() < 0.9:
        user["country"] = rng.choice(_COUNTRIES)
    if rng.random() < 0.4:
        user["locale"] = rng.choice(_LOCALES)
        user["appVersion"] = f"3.{rng.randint(0, 14)}.{rng.randint(0, 9)}"
    if rng.random() < 0.2:
        user["ip"] = f"203.0.113.{rng.randint(1, 254)}"
    if rng.random() < 0.1:
        user["userAgent"] = rng.choice(_USER_AGENTS)
    if rng.random() < 0.4:
        user["custom"] = {
            "subscription_plan": rng.choice(_PLANS),
            "account_age_days": rng.randint(0, 2_000),
            "is_beta_tester": rng.random() < 0.1,
        }
    if rng.random() < 0.15:
        user["privateAttributes"] = {"internal_user_id": str(rng.randint(10_000, 99_999))}
    ids = {"stableID": _uuid4(rng)} if anonymous or rng.random() < 0.6 else {}
    if not anonymous and rng.random() < 0.4:
        ids["companyID"] = f"company-{rng.randint(1, 400)}"
    if ids:
        user["customIDs"] = ids
    if rng.random() < 0.2:
        user["statsigEnvironment"] = {"tier": "production"}
    return user


def _browser_agent(rng: random.Random) -> str:
    template, versions, _ = rng.choices(_BROWSER_AGENTS, _AGENT_WEIGHTS)[0]
    return template.format(rng.choice(versions))


def _public_ip(rng: random.Random) -> str:
    """A public address: IPv4, or one time in ten IPv6 (in 2a00::/8, RIPE's global unicast)."""
    if rng.random() < 0.1:
        return str(
            ipaddress.IPv6Address((0x2A00 + rng.randrange(0x100)) << 112 | rng.getrandbits(112))
        )
    octets = (rng.choice(_PUBLIC_FIRST_OCTETS), rng.randrange(256), rng.randrange(256))
    return f"{octets[0]}.{octets[1]}.{octets[2]}.{rng.randrange(1, 255)}"


@lru_cache(maxsize=USER_POOL_SIZE)
def _web_user(index: int) -> dict[str, Any]:
    """User ``index`` as a browser's requests bring it (do not mutate): a public ip and a
    browser agent of its own, and a country of its own one time in ten."""
    rng = random.Random(f"web-{index}")  # apart from _user's stream: its fields stay as they are
    keeps_country = rng.random() < 0.1
    user = {k: v for k, v in _user(index).items() if k != "country" or keeps_country}
    user["ip"] = _public_ip(rng)
    user["userAgent"] = _browser_agent(rng)
    return user


def _user_index(rng: random.Random) -> int:
    return int(USER_POOL_SIZE * rng.random() ** 2)


def _secondary_exposures(rng: random.Random) -> list[dict[str, str]]:
    exposures = []
    for gate, rules in rng.sample(_GATES, rng.randint(1, 3)):
        value = rng.random() < 0.5
        exposures.append(
            {"gate": gate, "gateValue": "true" if value else "false", "ruleID": rng.choice(rules)}
        )
    return exposures


def _gate_exposure(rng: random.Random, time_ms: int) -> dict[str, Any]:
    gate, rules = rng.choice(_GATES)
    rule = rng.choice(rules)
    passes = rule != "default" and rng.random() < 0.8
    metadata = {
        "gate": gate,
        "gateValue": "true" if passes else "false",
        "ruleID": rule,
        "reason": rng.choice(_REASONS),
        "time": str(time_ms),
    }
    return {"eventName": "statsig::gate_exposure", "metadata": metadata}


def _config_exposure(rng: random.Random, time_ms: int) -> dict[str, Any]:
    """A dynamic config, experiment or layer exposure (1 : 2 : 1)."""
    kind = rng.choice(("config", "experiment", "experiment", "layer"))
    if kind == "config":
        name, rules = rng.choice(_CONFIGS)
        metadata = {"config": name, "ruleID": rng.choice(rules)}
    elif kind == "experiment":
        name, rules = rng.choice(_EXPERIMENTS)
        metadata = {"config": name, "ruleID": rng.choice(rules)}
        metadata["experimentGroupName"] = rng.choice(_GROUPS)
    else:
        name, rules = rng.choice(_LAYERS)
        metadata = {
            "config": name,
            "ruleID": rng.choice(rules),
            "allocatedExperiment": rng.choice(_EXPERIMENTS)[0],
            "parameterName": rng.choice(("button_color", "threshold", "copy", "enabled")),
            "isExplicitParameter": "true",
        }
    metadata["reason"] = rng.choice(_REASONS)
    metadata["time"] = str(time_ms)
    event: dict[str, Any] = {"eventName": f"statsig::{kind}_exposure", "metadata": metadata}
    if rng.random() < 0.4:
        event["secondaryExposures"] = _secondary_exposures(rng)
    return event


def _custom_event(rng: random.Random, time_ms: int) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.35:
        page = rng.choice(_PAGES)
        return {
            "eventName": "page_view",
            "value": page,
            "metadata": {"page": page, "referrer": rng.choice(("", "google", "email", "direct"))},
        }
    if kind < 0.55:
        sku = f"SKU-{rng.randint(1000, 9999)}"
        price = f"{rng.randint(3, 300)}.{rng.randint(0, 99):02d}"
        return {
            "eventName": "add_to_cart",
            "value": sku,
            "metadata": {"sku": sku, "price": price, "quantity": rng.randint(1, 4)},
        }
    if kind < 0.65:
        return {
            "eventName": "purchase",
            "value": round(rng.uniform(5, 500), 2),
            "metadata": {
                "currency": rng.choice(("USD", "USD", "EUR", "GBP")),
                "items": str(rng.randint(1, 6)),
                "order_id": f"ord_{rng.getrandbits(40):010x}",
            },
        }
    if kind < 0.75:
        query = rng.choice(("shoes", "red dress", "usb-c cable", "gift card", "tent"))
        return {"eventName": "search", "value": query, "metadata": {"results": rng.randint(0, 80)}}
    if kind < 0.8:
        return {"eventName": "sign_up", "metadata": {"method": rng.choice(("email", "google"))}}
    return {
        "eventName": "button_click",
        "value": f"cta_{rng.choice(('hero', 'footer', 'modal', 'nav'))}",
        "metadata": {"page": rng.choice(_PAGES)},
    }


def _diagnostics(rng: random.Random, time_ms: int) -> dict[str, Any]:
    start = time_ms - rng.randint(50, 2_000)
    steps = [
        (key, action) for key in rng.sample(_DIAGNOSTIC_KEYS, 2) for action in ("start", "end")
    ]
    markers = [
        {"key": key, "action": action, "timestamp": start + 40 * step}
        for step, (key, action) in enumerate(steps)
    ]
    return {
        "eventName": "statsig::diagnostics",
        "metadata": {"context": "initialize", "markers": markers},
    }


def _config_change(rng: random.Random, time_ms: int) -> dict[str, Any]:
    entity_type, entities = rng.choice(_CONFIG_TYPES)
    metadata = {"type": entity_type, "name": rng.choice(entities)[0]}
    metadata["action"] = rng.choice(_CONFIG_ACTIONS)
    return {"eventName": "statsig::config_change", "metadata": metadata}


def _event(rng: random.Random, time_ms: int) -> tuple[dict[str, Any], bool]:
    """One event without its user or time, and whether it is a console config change."""
    draw = rng.random()
    if draw < 0.55:
        return _gate_exposure(rng, time_ms), False
    if draw < 0.70:
        return _config_exposure(rng, time_ms), False
    if draw < 0.95:
        return _custom_event(rng, time_ms), False
    if draw < 0.98:
        return _diagnostics(rng, time_ms), False
    return _config_change(rng, time_ms), True


def _console_user(rng: random.Random) -> dict[str, Any]:
    member = rng.randint(1, 12)
    return {"userID": f"console-{member}", "email": f"admin{member}@corp.example.com"}


def sample_request(
    rng: random.Random, events_per_request: int = 50, now_ms: int | None = None, web: bool = False
) -> bytes:
    """One ``/v1/log_event`` body of ``events_per_request`` events sent just before ``now_ms``.

    About 55% of bodies come from a server SDK (a user on every event), the rest from a client
    SDK (one top-level ``user``). ``now_ms`` defaults to :data:`DEFAULT_NOW_MS`; ``web`` gives
    the users public ips and browser agents (see the module's docstring).
    """
    user_of: Callable[[int], dict[str, Any]] = _web_user if web else _user
    now = DEFAULT_NOW_MS if now_ms is None else now_ms
    sent_at = now - rng.randint(0, 2_000)
    times = sorted(sent_at - rng.randint(0, _FLUSH_WINDOW_MS) for _ in range(events_per_request))
    server = rng.random() < 0.55
    sdk_type, sdk_version = rng.choice(_SERVER_SDKS if server else _CLIENT_SDKS)
    metadata: dict[str, Any] = {"sdkType": sdk_type, "sdkVersion": sdk_version}
    body: dict[str, Any] = {"events": []}
    if server:
        metadata["sessionID"] = _uuid4(rng)
    else:
        user = user_of(_user_index(rng))
        stable_id = user.get("customIDs", {}).get("stableID") or _uuid4(rng)
        metadata.update(stableID=stable_id, sessionID=_uuid4(rng), exposureLoggingDisabled=False)
        body["user"] = user
    page = rng.choice(_PAGES)
    user_index, run = 0, 0
    for time_ms in times:
        fields, from_console = _event(rng, time_ms)
        event: dict[str, Any] = {"eventName": fields.pop("eventName")}
        if from_console:
            event["user"] = _console_user(rng)
        elif server:
            if run == 0:  # one handled request checks a few gates for the same user
                user_index, run = _user_index(rng), rng.randint(1, 8)
            run -= 1
            event["user"] = user_of(user_index)
        event["time"] = time_ms
        event.update(fields)
        if not server and rng.random() < 0.3:
            event["statsigMetadata"] = {"currentPage": f"https://shop.example.com{page}"}
        body["events"].append(event)
    body["statsigMetadata"] = metadata
    return _encode(body)


def sample_requests(
    count: int,
    events_per_request: int = 50,
    seed: int = 0,
    now_ms: int | None = None,
    web: bool = False,
) -> list[bytes]:
    """``count`` bodies from :func:`sample_request`; the same arguments give the same bytes."""
    rng = random.Random(seed)
    return [sample_request(rng, events_per_request, now_ms, web) for _ in range(count)]
