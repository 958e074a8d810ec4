"""The deployment files agree with each other and with the code.

No container engine runs these tests: they read deploy/Dockerfile, deploy/compose.yaml, the
gateway and Prometheus configurations and the Kubernetes manifests, and check that every
reference resolves, every port lines up and every environment variable is one the worker reads.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import stat
import subprocess
import tomllib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from faust.types.settings import Settings as FaustSettings

from agents.web.auth import ApiKeyConfigError, load_api_keys

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
ENTRYPOINT = DEPLOY / "docker-entrypoint.sh"

# The same pattern as test_docs.py: the environment variables the worker's code reads.
_READS = re.compile(
    r"""(?:_int|_float|_str|_bool|os\.environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
)
#: Read by the Python interpreter itself, not by the worker.
_INTERPRETER_VARS = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
_BUILD_TOOLS = re.compile(
    r"\b(build-essential|gcc|g\+\+|clang|make|cmake|cargo|rustc|python3?-dev|libc6?-dev)\b"
)


def worker_settings() -> set[str]:
    return {
        name
        for path in (REPO / "agents").rglob("*.py")
        for name in _READS.findall(path.read_text())
    }


def faust_settings() -> set[str]:
    """The environment variables Faust itself reads into the app's configuration."""
    return {param.env_name for param in FaustSettings.SETTINGS.values() if param.env_name}


# --- compose -----------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def workers() -> dict[str, dict[str, Any]]:
    """The services built from deploy/Dockerfile."""
    found = {}
    for name, service in services().items():
        build = service.get("build")
        if build is None:
            continue
        context = DEPLOY / (build if isinstance(build, str) else build.get("context", "."))
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
        if (context / (dockerfile or "Dockerfile")).resolve() == DOCKERFILE.resolve():
            found[name] = service
    return found


def env_of(service: dict[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(entry.split("=", 1) for entry in raw)
    return {key: str(value) for key, value in raw.items()}


def container_ports(service: dict[str, Any]) -> set[int]:
    """The container side of `expose` and `ports` (short syntax)."""
    ports = {int(str(port).split("/")[0]) for port in service.get("expose", [])}
    for port in service.get("ports", []):
        ports.add(int(str(port).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def published_container_ports(service: dict[str, Any]) -> set[int]:
    """The container side of the `ports` that are published on the host."""
    return {
        int(str(port).split("/")[0].rsplit(":", 1)[-1])
        for port in service.get("ports", [])
        if ":" in str(port)
    }


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each short-syntax volume."""
    pairs = []
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        pairs.append((source, target))
    return pairs


def names_of(value: Any) -> set[str]:
    """The names of a list-or-mapping attribute (networks, depends_on, secrets)."""
    if value is None:
        return set()
    if isinstance(value, dict):
        return set(value)
    return {item if isinstance(item, str) else item["source"] for item in value}


def kafka_env() -> dict[str, str]:
    return env_of(services()["kafka"])


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """NAME://host:port,... as name -> (host, port)."""
    result = {}
    for entry in value.split(","):
        name, _, address = entry.partition("://")
        host, _, port = address.rpartition(":")
        result[name] = (host, int(port))
    return result


def broker_addresses(kafka_broker: str) -> set[tuple[str, int]]:
    addresses = set()
    for url in re.split(r"[;,]", kafka_broker):
        parts = urlsplit(url)
        assert parts.scheme == "kafka" and parts.hostname and parts.port, url
        addresses.add((parts.hostname, parts.port))
    return addresses


# --- nginx and Prometheus ---------------------------------------------------------------


def nginx_conf() -> str:
    return re.sub(r"#[^\n]*", "", (DEPLOY / "nginx.conf").read_text())


def nginx_directive(conf: str, name: str) -> str:
    found = re.search(rf"^\s*{name}\s+(\S+);", conf, re.M)
    assert found, f"nginx.conf sets {name}"
    return found.group(1)


def nginx_size(value: str) -> int:
    found = re.fullmatch(r"(\d+)([kKmMgG]?)", value)
    assert found, value
    return (
        int(found.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[found.group(2).lower()]
    )


def nginx_seconds(value: str) -> float:
    found = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert found, value
    return int(found.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[found.group(2)]


# --- Dockerfile --------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [args for key, args in self.instructions if key == keyword]

    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for args in self.args("ENV"):
            for token in shlex.split(args):
                key, _, value = token.partition("=")
                found[key] = value
        return found


def dockerfile_stages() -> list[Stage]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def runtime_stage() -> Stage:
    return dockerfile_stages()[-1]


def copy_sources(args: str) -> list[str]:
    tokens = [token for token in shlex.split(args) if not token.startswith("--")]
    return tokens[:-1]


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and line[0] != "#"]


def ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch(prefix, pattern.removeprefix("**/")) or fnmatch(prefix, pattern)
        for pattern in patterns
        for prefix in prefixes + parts
    )


# --- Kubernetes --------------------------------------------------------------------------


def manifests() -> Iterator[dict[str, Any]]:
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def only(kind: str) -> dict[str, Any]:
    found = [doc for doc in manifests() if doc["kind"] == kind]
    assert len(found) == 1, f"one {kind} expected, found {len(found)}"
    return found[0]


def statefulset_container() -> dict[str, Any]:
    containers = only("StatefulSet")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def configmap() -> dict[str, str]:
    return {key: str(value) for key, value in only("ConfigMap")["data"].items()}


def port_number(port: int | str, container: dict[str, Any]) -> int:
    """A numeric port, or the containerPort a named port stands for."""
    if isinstance(port, int):
        return port
    named = {entry["name"]: entry["containerPort"] for entry in container["ports"]}
    assert port in named, f"port {port!r} is not a port of the container"
    return int(named[port])


def health_paths() -> set[str]:
    """The paths where the worker answers a plain 200 JSON health document (its Health view)."""
    from agents.web.status import Health

    return {Health.view_path}


# === every file ==========================================================================


def test_every_yaml_file_in_deploy_parses_to_mappings() -> None:
    paths = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert {path.name for path in paths} >= {"compose.yaml", "prometheus.yml", "statefulset.yaml"}
    for path in paths:
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        assert documents, f"{path} is empty"
        assert all(isinstance(doc, dict) for doc in documents), path


# === compose =============================================================================


def test_compose_builds_from_files_that_exist() -> None:
    built = {name: s for name, s in services().items() if "build" in s}
    assert built, "the compose file builds the worker image"
    for name, service in built.items():
        context = (DEPLOY / service["build"]["context"]).resolve()
        assert context.is_dir(), name
        assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name
    assert set(built) == set(workers())
    # The Dockerfile's COPY paths and the .dockerignore are relative to the repository root.
    for name, service in built.items():
        assert (DEPLOY / service["build"]["context"]).resolve() == REPO, name


def test_compose_references_resolve() -> None:
    data = compose()
    declared_volumes = set(data.get("volumes") or {})
    declared_networks = set(data.get("networks") or {})
    declared_secrets = set(data.get("secrets") or {})
    for name, service in services().items():
        for source, _target in mounts(service):
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"
        assert names_of(service.get("networks")) <= declared_networks, name
        assert names_of(service.get("secrets")) <= declared_secrets, name
        assert names_of(service.get("depends_on")) <= set(services()), name


def test_compose_runs_at_least_two_workers_in_one_consumer_group() -> None:
    found = workers()
    assert len(found) >= 2
    envs = [env_of(service) for service in found.values()]
    assert len({env["APP_ID"] for env in envs}) == 1, "one APP_ID: one consumer group"
    assert len({env.get("TOPIC_PREFIX", "statsig.") for env in envs}) == 1
    assert len({env["TOPIC_PARTITIONS"] for env in envs}) == 1
    assert len(found) <= int(envs[0]["TOPIC_PARTITIONS"]), "more workers than partitions"


def test_compose_workers_expose_their_web_port() -> None:
    for name, service in workers().items():
        env = env_of(service)
        assert env["WEB_HOST"] == "0.0.0.0", name
        assert container_ports(service) == {int(env["WEB_PORT"])}, name


def test_compose_workers_keep_their_table_store_on_their_own_volume() -> None:
    volumes = []
    for name, service in workers().items():
        env = env_of(service)
        assert env["TABLE_STORE"].startswith("rocksdb://"), name
        on_data_dir = [src for src, target in mounts(service) if target == env["DATA_DIR"]]
        assert len(on_data_dir) == 1, f"{name}: one volume on DATA_DIR"
        volumes.append(on_data_dir[0])
    assert len(set(volumes)) == len(volumes), "each worker needs its own data volume"


def test_compose_workers_advertise_their_own_url_to_each_other() -> None:
    # Table reads are forwarded to the owning worker's canonical URL; Faust's default
    # (http://0.0.0.0:<port>) would be the same for every container.
    for name, service in workers().items():
        env = env_of(service)
        assert env["NODE_CANONICAL_URL"] == f"http://{name}:{env['WEB_PORT']}"


def test_compose_workers_reach_kafka_on_an_advertised_listener() -> None:
    advertised = set(listeners(kafka_env()["KAFKA_ADVERTISED_LISTENERS"]).values())
    for name, service in workers().items():
        addresses = broker_addresses(env_of(service)["KAFKA_BROKER"])
        assert addresses <= advertised, name
        assert {host for host, _ in addresses} <= set(services()), name
        depends = service["depends_on"]
        for host, _ in addresses:
            assert depends[host]["condition"] == "service_healthy", name
    assert services()["kafka"]["healthcheck"]["test"]


def test_compose_kafka_is_a_single_node_kraft_cluster() -> None:
    env = kafka_env()
    assert services()["kafka"]["image"].startswith("apache/kafka:")
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    bound = listeners(env["KAFKA_LISTENERS"])
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(bound) <= set(protocols)
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert controller in bound
    voter = f"{env['KAFKA_NODE_ID']}@kafka:{bound[controller][1]}"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voter
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    assert controller not in advertised
    assert set(advertised) <= set(bound)
    for name, (_, port) in advertised.items():
        assert bound[name][1] == port, name
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    # One broker: no replication factor may exceed 1, the workers' topics included.
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):
        assert int(env[key]) == 1, key
    assert all(int(env_of(s)["TOPIC_REPLICAS"]) == 1 for s in workers().values())
    # The listeners other than the workers' one are for tools on the host: published.
    internal = env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    host_listeners = {port for name, (_, port) in advertised.items() if name != internal}
    assert host_listeners <= published_container_ports(services()["kafka"])
    log_dir = env["KAFKA_LOG_DIRS"]
    assert any(target == log_dir for _, target in mounts(services()["kafka"])), "Kafka's log dir"


def test_prometheus_scrapes_every_worker_on_its_web_port() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = set()
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for group in job["static_configs"]:
            targets.update(group["targets"])
    expected = {f"{name}:{env_of(s)['WEB_PORT']}" for name, s in workers().items()}
    assert targets == expected
    prometheus = services()["prometheus"]
    assert ("./prometheus.yml", "/etc/prometheus/prometheus.yml") in mounts(prometheus)


def test_gateway_spreads_requests_over_every_worker() -> None:
    conf = nginx_conf()
    upstream = re.search(r"upstream\s+(\w+)\s*{(.*?)}", conf, re.S)
    assert upstream, "nginx.conf has an upstream"
    servers = set(re.findall(r"^\s*server\s+([\w.-]+:\d+)", upstream.group(2), re.M))
    expected = {f"{name}:{env_of(s)['WEB_PORT']}" for name, s in workers().items()}
    assert servers == expected
    assert f"proxy_pass http://{upstream.group(1)};" in conf
    gateway = services()["gateway"]
    assert ("./nginx.conf", "/etc/nginx/nginx.conf") in mounts(gateway)
    listen = {int(port) for port in re.findall(r"^\s*listen\s+(\d+)", conf, re.M)}
    assert listen and listen <= published_container_ports(gateway)


def test_gateway_lets_the_worker_answer_oversized_and_slow_requests() -> None:
    conf = nginx_conf()
    body_limit = nginx_size(nginx_directive(conf, "client_max_body_size"))
    read_timeout = nginx_seconds(nginx_directive(conf, "proxy_read_timeout"))
    for name, service in workers().items():
        env = env_of(service)
        assert body_limit > int(env["HTTP_MAX_REQUEST_BYTES"]), name
        assert read_timeout > float(env["HTTP_ACK_TIMEOUT_SECONDS"]), name


#: Kafka's default message.max.bytes, used when the compose broker does not set its own.
_KAFKA_MESSAGE_MAX_BYTES = 1_048_588


def test_a_request_the_worker_accepts_fits_in_one_kafka_message() -> None:
    # The raw topic holds each request body as one message: a body the HTTP API accepts must
    # pass both the worker's producer limit and the broker's message size limit.
    producer_limit = int(FaustSettings.SETTINGS["producer_max_request_size"].default)
    broker_limit = int(kafka_env().get("KAFKA_MESSAGE_MAX_BYTES", _KAFKA_MESSAGE_MAX_BYTES))
    for name, service in workers().items():
        env = env_of(service)
        limit = int(env.get("PRODUCER_MAX_REQUEST_SIZE", producer_limit))
        assert int(env["HTTP_MAX_REQUEST_BYTES"]) < min(limit, broker_limit), name
    config = configmap()
    limit = int(config.get("PRODUCER_MAX_REQUEST_SIZE", producer_limit))
    assert int(config["HTTP_MAX_REQUEST_BYTES"]) < limit


def test_compose_gives_the_api_keys_to_workers_as_a_secret_file() -> None:
    secrets = compose()["secrets"]
    for name, service in workers().items():
        env = env_of(service)
        assert "API_KEYS" not in env, f"{name}: keys belong in a secret, not the compose file"
        (secret,) = names_of(service["secrets"])
        assert "environment" in secrets[secret] or "file" in secrets[secret]
        assert env["API_KEYS_FILE"] == f"/run/secrets/{secret}", name


# === Dockerfile ==========================================================================


def test_dockerfile_builds_in_one_stage_and_runs_in_a_slim_one() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert runtime.base == "python:3.11-slim"
    assert any(
        re.search(r"pip install [^&]*\"?\.(\[[\w,-]+\])?\"?", run) for run in builder.args("RUN")
    )
    from_builder = [args for args in runtime.args("COPY") if f"--from={builder.name}" in args]
    assert [copy_sources(args) for args in from_builder] == [["/opt/venv"]]
    assert runtime.env()["PATH"].startswith("/opt/venv/bin:")


def test_dockerfile_runtime_stage_installs_no_build_tools() -> None:
    for run in runtime_stage().args("RUN"):
        assert not _BUILD_TOOLS.search(run), run
        assert "pip install" not in run, "the runtime stage gets its packages from the builder"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = runtime_stage().args("USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "a numeric uid lets Kubernetes check runAsNonRoot"
    pod_security = only("StatefulSet")["spec"]["template"]["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert str(pod_security["runAsUser"]) == user


def test_dockerfile_serves_http_on_all_interfaces_at_the_exposed_port() -> None:
    runtime = runtime_stage()
    env = runtime.env()
    assert env["WEB_HOST"] == "0.0.0.0"
    assert {int(port) for args in runtime.args("EXPOSE") for port in args.split()} == {
        int(env["WEB_PORT"])
    }
    assert env["TABLE_STORE"].startswith("rocksdb://")
    assert any(env["DATA_DIR"] in args for args in runtime.args("VOLUME"))


def test_health_checks_use_the_workers_health_path() -> None:
    served = health_paths()
    (healthcheck,) = runtime_stage().args("HEALTHCHECK")
    url = re.search(r"http://127\.0\.0\.1:%s(/[^'\"]*)", healthcheck)
    assert url, "the HEALTHCHECK asks the worker's HTTP port"
    assert "WEB_PORT" in healthcheck
    assert url.group(1) in served
    container = statefulset_container()
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in served, probe


def test_dockerfile_copies_only_what_the_dockerignore_keeps() -> None:
    patterns = dockerignore_patterns()
    for needless in (".venv", ".data", ".git", ".pytest_cache", ".mypy_cache", ".hypothesis"):
        assert ignored(needless, patterns), f".dockerignore should exclude {needless}"
    for stage in dockerfile_stages():
        for args in stage.args("COPY"):
            if "--from=" in args:
                continue
            for source in copy_sources(args):
                assert (REPO / source).exists(), source
                assert not ignored(source, patterns), f"{source} is excluded from the context"


def test_entrypoint_refuses_to_start_without_kafka_broker() -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    env = {key: value for key, value in os.environ.items() if key != "KAFKA_BROKER"}
    result = subprocess.run(
        ["sh", str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode != 0
    assert "KAFKA_BROKER" in result.stderr


@pytest.mark.parametrize(
    ("args", "log_level", "expected"),
    [
        ([], None, "-m agents worker --loglevel info"),
        ([], "warning", "-m agents worker --loglevel warning"),
        (["tail", "exposure", "--count", "3"], None, "-m agents tail exposure --count 3"),
    ],
)
def test_entrypoint_runs_the_worker_cli_against_kafka_broker(
    tmp_path: Path, args: list[str], log_level: str | None, expected: str
) -> None:
    # A stand-in `python` that records its arguments: the entrypoint's command, not a worker.
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    env = {
        "PATH": f"{fake.parent}:/usr/bin:/bin",
        "KAFKA_BROKER": "kafka://kafka:9092",
        "DATA_DIR": str(tmp_path / "data"),
    }
    if log_level:
        env["LOG_LEVEL"] = log_level
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), *args], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
    assert (tmp_path / "data").is_dir(), "the entrypoint creates DATA_DIR"


# === settings ============================================================================


def test_every_variable_the_deploy_files_set_is_a_setting_that_is_read() -> None:
    known = worker_settings() | faust_settings()
    set_by: dict[str, set[str]] = {}
    for name, service in workers().items():
        set_by[f"compose {name}"] = set(env_of(service))
    set_by["Dockerfile"] = set(runtime_stage().env()) - _INTERPRETER_VARS
    set_by["ConfigMap"] = set(configmap())
    container_env = statefulset_container()["env"]
    # A variable only there to be expanded into another one, e.g. $(POD_IP), is fine.
    expanded = {
        ref for entry in container_env for ref in re.findall(r"\$\((\w+)\)", entry.get("value", ""))
    }
    set_by["StatefulSet"] = {entry["name"] for entry in container_env} - expanded
    unknown = {where: sorted(names - known) for where, names in set_by.items() if names - known}
    assert unknown == {}


def test_configmap_holds_what_a_production_worker_needs() -> None:
    data = configmap()
    for required in ("KAFKA_BROKER", "APP_ID", "TOPIC_PARTITIONS", "API_KEYS_FILE", "DATA_DIR"):
        assert data.get(required), required
    assert data["WEB_HOST"] == "0.0.0.0"
    assert data["TABLE_STORE"].startswith("rocksdb://")
    broker_addresses(data["KAFKA_BROKER"])
    assert "API_KEYS" not in data, "keys belong in the Secret"


# === Kubernetes ==========================================================================


def test_k8s_manifests_have_the_expected_kinds() -> None:
    kinds = Counter(doc["kind"] for doc in manifests())
    assert kinds == {
        "ConfigMap": 1,
        "Secret": 1,
        "Service": 2,
        "StatefulSet": 1,
        "PodDisruptionBudget": 1,
    }
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(on_disk)


def test_statefulset_port_matches_the_services_and_web_port() -> None:
    container = statefulset_container()
    web_port = int(configmap()["WEB_PORT"])
    assert port_number("http", container) == web_port
    services_ = [doc for doc in manifests() if doc["kind"] == "Service"]
    for service in services_:
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert port_number(target, container) == web_port, service["metadata"]["name"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert port_number(container[probe]["httpGet"]["port"], container) == web_port
    canonical = next(e["value"] for e in container["env"] if e["name"] == "NODE_CANONICAL_URL")
    assert urlsplit(canonical.replace("$(POD_IP)", "pod")).port == web_port
    annotations = only("StatefulSet")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == web_port
    assert annotations["prometheus.io/path"] == "/metrics"


def test_k8s_selectors_match_the_worker_pods() -> None:
    statefulset = only("StatefulSet")
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= labels.items()
    services_ = {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == "Service"}
    headless = services_[statefulset["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    for service in services_.values():
        assert service["spec"]["selector"].items() <= labels.items()
    pdb = only("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert statefulset["spec"]["replicas"] <= int(configmap()["TOPIC_PARTITIONS"])


def test_pods_get_no_variables_from_other_services() -> None:
    # Kubernetes would inject <SERVICE>_PORT=tcp://... for every Service in the namespace; a
    # Service `web` gives WEB_PORT, a name the worker reads.
    assert only("StatefulSet")["spec"]["template"]["spec"]["enableServiceLinks"] is False


def test_statefulset_keeps_the_table_store_on_a_claimed_volume() -> None:
    container = statefulset_container()
    data_dir = configmap()["DATA_DIR"]
    claims = {c["metadata"]["name"] for c in only("StatefulSet")["spec"]["volumeClaimTemplates"]}
    on_data_dir = [m["name"] for m in container["volumeMounts"] if m["mountPath"] == data_dir]
    assert on_data_dir and set(on_data_dir) <= claims
    fs_group = only("StatefulSet")["spec"]["template"]["spec"]["securityContext"]["fsGroup"]
    assert fs_group, "the non-root worker must be able to write its volume"


def test_statefulset_reads_the_api_keys_from_the_secret(tmp_path: Path) -> None:
    secret = only("Secret")
    keys_file = Path(configmap()["API_KEYS_FILE"])
    volumes = {v["name"]: v for v in only("StatefulSet")["spec"]["template"]["spec"]["volumes"]}
    (mount,) = [
        m
        for m in statefulset_container()["volumeMounts"]
        if Path(m["mountPath"]) == keys_file.parent
    ]
    assert volumes[mount["name"]]["secret"]["secretName"] == secret["metadata"]["name"]
    content = secret.get("stringData", {}).get(keys_file.name)
    assert content is not None, f"the Secret has no {keys_file.name} entry"
    # No key is committed: as shipped, the worker's own loader refuses to start without one.
    shipped = tmp_path / keys_file.name
    shipped.write_text(content)
    with pytest.raises(ApiKeyConfigError, match="no API key configured"):
        load_api_keys("", str(shipped), configmap()["WEB_HOST"])


def test_each_worker_gets_one_core() -> None:
    resources = statefulset_container()["resources"]
    assert str(resources["requests"]["cpu"]) == str(resources["limits"]["cpu"]) == "1"
    assert resources["limits"]["memory"]
    for name, service in workers().items():
        assert float(service["cpus"]) == 1.0, name


def test_compose_and_k8s_run_the_same_image_of_this_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    images = {service["image"] for service in workers().values()}
    assert images == {statefulset_container()["image"]}
    (image,) = images
    assert image.rsplit(":", 1)[1] == version


# === Kafka client settings ===============================================================

#: What a production worker's Kafka clients do, stated in compose and the ConfigMap alike: the
#: worker's defaults written out, so an operator reads them (deploy/README.md explains each).
KAFKA_CLIENT_SETTINGS = (
    "PRODUCER_ACKS",
    "CONSUMER_AUTO_OFFSET_RESET",
    "BROKER_SESSION_TIMEOUT",
    "BROKER_REBALANCE_TIMEOUT",
    "FETCH_MAX_WAIT_MS",
    "SEND_RETRIES",
)
REPLICATION_SETTINGS = ("TOPIC_REPLICAS", "TOPIC_MIN_INSYNC_REPLICAS")


def worker_defaults(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The value each Kafka client setting has when the environment does not set it."""
    from agents.settings import Settings

    for name in (*KAFKA_CLIENT_SETTINGS, *REPLICATION_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    faust = FaustSettings.SETTINGS
    return {
        "PRODUCER_ACKS": -1,  # agents/app.py; tests/unit/test_durability_settings.py checks it
        "CONSUMER_AUTO_OFFSET_RESET": faust["consumer_auto_offset_reset"].default,
        "BROKER_SESSION_TIMEOUT": settings.session_timeout,
        "BROKER_REBALANCE_TIMEOUT": settings.rebalance_timeout,
        "FETCH_MAX_WAIT_MS": settings.fetch_max_wait_ms,
        "SEND_RETRIES": settings.send_retries,
    }


def stated_value(name: str, value: str) -> object:
    """A deploy file's text as the worker reads it (Faust's ``all`` is -1)."""
    if name == "PRODUCER_ACKS":
        return int(FaustSettings.SETTINGS["producer_acks"].number_aliases.get(value, value))
    if name == "CONSUMER_AUTO_OFFSET_RESET":
        return value
    return float(value)


def deployments() -> dict[str, dict[str, str]]:
    stated = {f"compose {name}": env_of(service) for name, service in workers().items()}
    stated["ConfigMap"] = configmap()
    return stated


def test_compose_and_k8s_state_the_workers_kafka_client_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = worker_defaults(monkeypatch)
    for where, env in deployments().items():
        missing = [name for name in KAFKA_CLIENT_SETTINGS if name not in env]
        assert missing == [], f"{where} does not state {missing}"
        for name in KAFKA_CLIENT_SETTINGS:
            assert stated_value(name, env[name]) == defaults[name], f"{where}: {name}"
    assert stated_value("PRODUCER_ACKS", configmap()["PRODUCER_ACKS"]) == -1, "acks=all"


def test_replication_fits_each_deployments_brokers(monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.settings import Settings

    for where, env in deployments().items():
        replicas, in_sync = (int(env[name]) for name in REPLICATION_SETTINGS)
        assert replicas <= len(broker_addresses(env["KAFKA_BROKER"])), where
        for name in REPLICATION_SETTINGS:
            monkeypatch.setenv(name, env[name])
        settings = Settings.from_env()  # refuses more in-sync replicas than replicas
        assert settings.topic_config() == {"min.insync.replicas": str(in_sync)}
    # One broker in compose; the cluster of the ConfigMap keeps an acknowledged write on two
    # brokers and takes writes with one of three down.
    assert {int(env_of(s)["TOPIC_MIN_INSYNC_REPLICAS"]) for s in workers().values()} == {1}
    config = configmap()
    assert (int(config["TOPIC_REPLICAS"]), int(config["TOPIC_MIN_INSYNC_REPLICAS"])) == (3, 2)


def test_deploy_readme_explains_every_kafka_client_setting() -> None:
    text = (DEPLOY / "README.md").read_text()
    missing = [name for name in (*KAFKA_CLIENT_SETTINGS, *REPLICATION_SETTINGS) if name not in text]
    assert missing == []
