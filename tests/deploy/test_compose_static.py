"""Static checks of docker/compose.{local,prod,dokploy}.yml, the webhook keys they share (one per event kind:
docker/kestra-webhook-keys.yml) and their docker/env/*.example files.

No Docker engine runs here, so the compose files are checked as data: they parse and match the Compose
specification's JSON schema (vendored in tests/deploy/data/), Compose's variable interpolation is
replayed with the example env files, and each deployment rule of the issue is a test that fails when a
careless edit breaks it: pinned images, the tested Kestra version, no secret with a default, health
checks, no Docker socket, no published PostgreSQL port, Traefik exposing only the webhook path.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from christmas_tasks.entrypoints.secrets_env import decode_env
from christmas_tasks.entrypoints.settings import webhook_keys

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENV_DIR = DOCKER / "env"
FLOWS = ROOT / "flows"
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
SCHEMA_SHA256 = "1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e"

FILES = {"local": "compose.local.yml", "prod": "compose.prod.yml", "dokploy": "compose.dokploy.yml"}
DB = "christmas-kestra-db"  # the database service: no generic name on Dokploy's shared network
SERVER_FILES = ("prod", "dokploy")
WEBHOOK_PREFIX = "/api/v1/main/executions/webhook/"
PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"
# The seed note's owner address: the e2e tests' inbox.
E2E_TEST_EMAIL = "lengobaosang@gmail.com"
# Secrets that may be empty where everything else is live: the optional analytics database and Discord.
OPTIONAL_SECRETS = {"SECRET_NOTION_EMAIL_ANALYTICS_DB_ID", "SECRET_DISCORD_WEBHOOK_URL"}
# Variables an example file may carry for the tools around the stack, not for the stack itself.
TOOL_VARIABLES = {"KESTRA_URL", "E2E_TEST_EMAIL"}
# One webhook key per event kind, required by every compose file through the one list they extend; the examples
# name no kind's key: `christmas-tasks secrets init` and `encode` make each operator's.
WEBHOOK_KEYS_FILE = DOCKER / "kestra-webhook-keys.yml"
WEBHOOK_KEYS = {f"SECRET_{name}" for name in webhook_keys()}


# --- helpers: the files, Compose interpolation, dotenv --------------------------------------------------


def versions() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / "kestra" / "versions.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def raw(kind: str) -> str:
    return (DOCKER / FILES[kind]).read_text(encoding="utf-8")


def load(kind: str) -> dict[str, Any]:
    """The compose file, with what its services `extends` from another file merged in as Compose merges it (the
    extended service's mappings first, the file's own entries over them)."""
    data = yaml.safe_load(raw(kind))
    assert isinstance(data, dict), f"{FILES[kind]}: not a mapping"
    for service in data["services"].values():
        extends = service.get("extends")
        if isinstance(extends, dict):
            other = yaml.safe_load((DOCKER / extends["file"]).read_text(encoding="utf-8"))
            base = other["services"][extends["service"]]
            for key, value in base.items():
                service[key] = {**value, **service.get(key, {})} if isinstance(value, dict) else service.get(key, value)
    return data


def read_env_file(path: Path) -> dict[str, str]:
    """A dotenv file of plain NAME=value lines, as the examples are written (no quotes, no continuation)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", name), f"{path.name}:{number}: not NAME=value"
        assert name not in values, f"{path.name}:{number}: {name} set twice"
        values[name] = value
    return values


def example(kind: str) -> dict[str, str]:
    return read_env_file(ENV_DIR / f".env.{kind}.example")


_REFERENCE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?|:\+|\+)(?P<arg>.*))?", re.DOTALL)


class MissingVariable(Exception):
    """What `docker compose` reports for `${NAME:?message}` (or `${NAME?message}`) on a missing value."""


def references(text: str) -> list[tuple[str, str | None, str]]:
    """Every ${...} / $NAME in a text: (name, operator or None, argument)."""
    found = []
    for match in _REFERENCE.finditer(text):
        if match["escaped"]:
            continue
        if match["named"]:
            found.append((match["named"], None, ""))
            continue
        braced = _BRACED.fullmatch(match["braced"])
        assert braced, f"not a Compose variable reference: ${{{match['braced']}}}"
        found.append((braced["name"], braced["op"], braced["arg"] or ""))
    return found


def strings(node: Any) -> list[str]:
    """Every string of a parsed file, keys included (Compose interpolates values; comments are gone)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [text for item in node for text in strings(item)]
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in (*strings(key), *strings(value))]
    return []


def file_references(kind: str) -> list[tuple[str, str | None, str]]:
    return [reference for text in strings(load(kind)) for reference in references(text)]


def interpolate_text(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation of one value (compose-spec, "Interpolation"); `$$` is a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.fullmatch(match["braced"])
        assert braced is not None
        name, op, arg = braced["name"], braced["op"], braced["arg"] or ""
        value = env.get(name)
        if op is None:
            return value or ""
        if op == ":-":
            return value if value else arg
        if op == "-":
            return value if value is not None else arg
        if op == ":?":
            if not value:
                raise MissingVariable(f"required variable {name} is missing a value: {arg}")
            return value
        if op == "?":
            if value is None:
                raise MissingVariable(f"required variable {name} is missing a value: {arg}")
            return value
        if op == ":+":
            return arg if value else ""
        return arg if value is not None else ""  # "+"

    return _REFERENCE.sub(replace, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate_text(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def filled_example(kind: str) -> dict[str, str]:
    """The example env file with a stand-in for every empty value and every webhook key, as an operator would fill it
    in (the webhook keys appended from `christmas-tasks secrets encode`)."""
    values = {**example(kind), **dict.fromkeys(sorted(WEBHOOK_KEYS), "")}
    for name, value in values.items():
        local_secret = kind == "local" and name.startswith("SECRET_") and name not in WEBHOOK_KEYS
        if value == "" and name not in OPTIONAL_SECRETS and not local_secret:
            values[name] = "c3RhbmQtaW4=" if name.startswith("SECRET_") else f"stand-in-{name.lower()}"
    return values


def resolved(kind: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    return interpolate(load(kind), filled_example(kind) if env is None else env)


def kestra_environment(data: Mapping[str, Any]) -> dict[str, str]:
    environment = data["services"]["kestra"]["environment"]
    assert isinstance(environment, dict), "kestra's environment is a mapping (NAME: value)"
    return environment


def kestra_configuration(data: Mapping[str, Any]) -> dict[str, Any]:
    config = yaml.safe_load(kestra_environment(data)["KESTRA_CONFIGURATION"])
    assert isinstance(config, dict)
    return config


def flow_texts() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(FLOWS.glob("*.yml"))}


def flow_secrets() -> set[str]:
    return {name for text in flow_texts().values() for name in re.findall(r"secret\('([A-Z0-9_]+)'\)", text)}


def flow_envs() -> set[str]:
    return {name for text in flow_texts().values() for name in re.findall(r"envs\.([a-z0-9_]+)", text)}


def is_secret(name: str) -> bool:
    return name.startswith("SECRET_") or any(word in name for word in ("PASSWORD", "TOKEN", "KEY", "USERNAME"))


# --- the files are Compose files ------------------------------------------------------------------------


def test_the_vendored_schema_is_the_recorded_copy() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256, "see tests/deploy/data/README.md"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("https://json-schema.org/draft-07/")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def schema_errors(validator: jsonschema.protocols.Validator, data: Any) -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(data)]


@pytest.mark.parametrize("kind", FILES)
def test_parses_and_matches_the_compose_specification(kind: str, validator: jsonschema.protocols.Validator) -> None:
    assert schema_errors(validator, load(kind)) == []
    # ...and still does once Compose has put the example values in.
    assert schema_errors(validator, resolved(kind)) == []


def test_the_schema_check_does_catch_a_broken_file(validator: jsonschema.protocols.Validator) -> None:
    broken = load("prod")
    broken["services"]["kestra"]["restart_policy"] = "always"  # not a Compose key
    broken["services"][DB]["healthcheck"]["test"] = {"cmd": "pg_isready"}
    broken["volumes"]["kestra-data"] = ["not", "a", "volume"]
    errors = schema_errors(validator, broken)
    assert any("restart_policy" in error for error in errors)
    assert any(error.startswith(f"services/{DB}/healthcheck/test") for error in errors)
    assert any(error.startswith("volumes/kestra-data") for error in errors)


@pytest.mark.parametrize("kind", FILES)
def test_two_services_kestra_and_its_database(kind: str) -> None:
    assert set(load(kind)["services"]) == {"kestra", DB}


# --- images -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
def test_every_image_is_pinned(kind: str) -> None:
    for name, service in load(kind)["services"].items():
        image = service.get("image")
        assert image, f"{name}: no image (a built service still names and tags its image)"
        repository, sep, tag = image.rpartition(":")
        assert sep and "/" not in tag and repository, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"
        assert "$" not in image, f"{name}: {image} depends on a variable"


@pytest.mark.parametrize("kind", FILES)
def test_postgresql_is_pinned_to_a_major_and_minor_release(kind: str) -> None:
    image = load(kind)["services"][DB]["image"]
    match = re.fullmatch(r"postgres:(\d+)\.(\d+)-alpine\d+\.\d+", image)
    assert match, f"{image}: pin a full release, such as postgres:16.13-alpine3.23"
    # One major everywhere: a PostgreSQL major upgrade needs a dump and restore, never a silent tag change.
    majors = {load(other)["services"][DB]["image"].split(":")[1].split(".")[0] for other in FILES}
    assert majors == {match[1]}


@pytest.mark.parametrize("kind", FILES)
def test_kestra_is_the_custom_image_at_the_tested_version(kind: str) -> None:
    kestra = load(kind)["services"]["kestra"]
    build = kestra["build"]
    compose_dir = DOCKER
    assert (compose_dir / build["context"]).resolve() == ROOT, "the build context is the repository root"
    assert (ROOT / build["dockerfile"]).resolve() == (DOCKER / "Dockerfile").resolve()
    assert "args" not in build, "versions come from the Dockerfile's ARG defaults (checked against versions.env)"
    tag = kestra["image"].rpartition(":")[2]
    assert tag == f"kestra-{versions()['KESTRA_VERSION']}", f"{kestra['image']}: tag it with the Kestra version"


@pytest.mark.parametrize("kind", FILES)
def test_kestra_loads_the_flows_baked_into_the_image_at_start(kind: str) -> None:
    command = load(kind)["services"]["kestra"]["command"]
    assert command[:2] == ["server", "standalone"]
    flow_path = command[command.index("--flow-path") + 1]
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(rf"^COPY flows/ {re.escape(flow_path)}/?$", dockerfile, flags=re.MULTILINE), flow_path


# --- secrets and variables ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
def test_no_secret_has_a_default_value(kind: str) -> None:
    for name, op, arg in file_references(kind):
        if is_secret(name):
            assert op in (":?", "?"), f"${{{name}}}: a secret is required (`:?` or `?`), never defaulted or optional"
            assert name in arg, f"${{{name}{op}...}}: the message names the variable"


def test_the_default_check_catches_a_defaulted_secret() -> None:
    text = "x: ${SECRET_RESEND_API_KEY:-re_123}\ny: ${KESTRA_PASSWORD}\nz: ${TESTING_MODE:-false}"
    bad = [name for name, op, _ in references(text) if is_secret(name) and op not in (":?", "?")]
    assert bad == ["SECRET_RESEND_API_KEY", "KESTRA_PASSWORD"]


@pytest.mark.parametrize("kind", FILES)
def test_the_flows_secrets_are_exactly_the_secrets_given(kind: str) -> None:
    environment = kestra_environment(load(kind))
    given = {name.removeprefix("SECRET_") for name in environment if name.startswith("SECRET_")}
    assert given == flow_secrets()
    for name, value in environment.items():
        if name.startswith("SECRET_"):
            refs = references(value)
            assert len(refs) == 1 and refs[0][0] == name and value.startswith("${"), f"{name}: ${{{name}:?...}} only"


@pytest.mark.parametrize("kind", SERVER_FILES)
def test_on_a_server_every_secret_but_the_optional_ones_must_be_non_empty(kind: str) -> None:
    for name, value in kestra_environment(load(kind)).items():
        if name.startswith("SECRET_"):
            op = references(value)[0][1]
            assert op == ("?" if name in OPTIONAL_SECRETS else ":?"), f"{name}: {op}"


def test_locally_the_webhook_keys_are_required_and_the_provider_secrets_may_be_empty() -> None:
    for name, value in kestra_environment(load("local")).items():
        if name.startswith("SECRET_"):
            op = references(value)[0][1]
            assert op == (":?" if name.startswith("SECRET_WEBHOOK_KEY_") else "?"), f"{name}: {op}"


@pytest.mark.parametrize("kind", FILES)
def test_a_missing_required_value_stops_the_deploy_naming_it(kind: str) -> None:
    values = filled_example(kind)
    resolved(kind, values)  # complete: no error
    required = {name for name, op, _ in file_references(kind) if op in (":?", "?")}
    assert required, "nothing is required?"
    for name in sorted(required):
        partial = {key: value for key, value in values.items() if key != name}
        with pytest.raises(MissingVariable, match=rf"\b{name}\b"):
            resolved(kind, partial)


@pytest.mark.parametrize("kind", FILES)
def test_every_setting_the_flows_read_is_given(kind: str) -> None:
    environment = kestra_environment(load(kind))
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    given = {name.removeprefix("ENV_").lower() for name in environment if name.startswith("ENV_")}
    given |= {name.removeprefix("ENV_").lower() for name in re.findall(r"\b(ENV_[A-Z_]+)=", dockerfile)}
    # optional: a sequence catalogue or template folder of its own (the package's are the default), the
    # providers' API roots (a gateway or a test fake), and the Notion cache's folder and template lifetime (tunables
    # with defaults: a deployment may add ENV_CHRISTMAS_CACHE_DIR or ENV_CHRISTMAS_TEMPLATE_CACHE_SECONDS)
    optional = {"christmas_catalogue", "christmas_templates_dir", "notion_api_url", "resend_api_url",
                "christmas_cache_dir", "christmas_template_cache_seconds"}
    # the resume's send cap and the guard's thresholds: tunables with defaults (ENV_SEND_CAP, ENV_GUARD_*)
    optional |= {"send_cap", "guard_window", "guard_complaint_warning", "guard_complaint_critical",
                 "guard_bounce_critical"}
    optional |= {"christmas_local_dir"} if kind in SERVER_FILES else set()
    assert flow_envs() - optional <= given, f"missing: {sorted(flow_envs() - optional - given)}"
    assert "christmas_backend" in given


@pytest.mark.parametrize("kind", SERVER_FILES)
def test_servers_run_the_live_backend_outside_testing_mode_by_default(kind: str) -> None:
    environment = kestra_environment(load(kind))
    assert environment["ENV_CHRISTMAS_BACKEND"] == "live"
    assert environment["ENV_TESTING_MODE"] == "${TESTING_MODE:-false}"


def test_local_runs_the_local_backend_in_testing_mode_by_default() -> None:
    environment = kestra_environment(resolved("local", {**filled_example("local"), "CHRISTMAS_BACKEND": ""}))
    assert environment["ENV_CHRISTMAS_BACKEND"] == "local"
    assert environment["ENV_CHRISTMAS_LOCAL_DIR"].startswith("/app/storage/"), "on the kestra-data volume"
    assert kestra_environment(load("local"))["ENV_TESTING_MODE"] == "${TESTING_MODE:-true}"


# --- Kestra's server configuration ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
def test_kestra_configuration(kind: str) -> None:
    data = resolved(kind)
    environment = kestra_environment(data)
    config = kestra_configuration(data)
    kestra = config["kestra"]
    assert kestra["repository"]["type"] == kestra["queue"]["type"] == "postgres"
    assert config["datasources"]["postgres"]["url"] == f"jdbc:postgresql://{DB}:5432/kestra"
    assert kestra["storage"] == {"type": "local", "local": {"base-path": "/app/storage"}}
    basic_auth = kestra["server"]["basic-auth"]
    assert basic_auth["open-urls"] == [WEBHOOK_PREFIX], "only the webhooks are open"
    assert "enabled" not in basic_auth or basic_auth["enabled"] is True
    assert kestra["encryption"]["secret-key"]
    assert kestra["tutorial-flows"]["enabled"] is False
    assert kestra["variables"]["env-vars-prefix"] == "ENV_", "Kestra's default: only ENV_* are readable as envs"
    assert kestra["url"].endswith("/")
    if kind in SERVER_FILES:
        assert kestra["url"].startswith("https://")
        assert kestra["configurations"]["delete-files-on-start"] is True
    # Each server secret reaches the configuration as a Micronaut placeholder of an environment variable
    # that is set from a required Compose variable, and never as a KESTRA_* variable (flows read those).
    placeholders = re.findall(r"\$\{([A-Z0-9_]+)\}", environment["KESTRA_CONFIGURATION"])
    for item in (basic_auth["username"], basic_auth["password"], kestra["encryption"]["secret-key"],
                 config["datasources"]["postgres"]["password"]):
        assert re.fullmatch(r"\$\{[A-Z0-9_]+\}", item), f"{item!r}: a secret is not written into the file"
    assert len(placeholders) == 4
    source = kestra_environment(load(kind))
    for name in placeholders:
        assert not name.startswith("KESTRA_"), f"{name}: flows could read it as envs"
        assert references(source[name])[0][1] == ":?", f"{name}: required"


@pytest.mark.parametrize("kind", FILES)
def test_no_server_wide_plugin_defaults_and_every_script_task_names_the_process_runner(kind: str) -> None:
    # Kestra 2.0 removes plugin defaults at every scope: the flows name their task runner themselves.
    assert "plugins" not in kestra_configuration(resolved(kind))["kestra"]
    for name, text in flow_texts().items():
        for task in (yaml.safe_load(text).get("tasks") or []):
            if task["type"].startswith("io.kestra.plugin.scripts."):
                assert task["taskRunner"]["type"] == PROCESS_RUNNER, f"{name}: {task['id']}"


# --- health, restarts, limits, logs, volumes ------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
def test_every_service_has_a_health_check(kind: str) -> None:
    services = load(kind)["services"]
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no health check"
    kestra_test = " ".join(services["kestra"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8081/health" in kestra_test, "Kestra's /health on the management port"
    assert "/opt/christmas/venv/bin/python" in kestra_test, "the image's own Python (curl is not guaranteed)"
    assert "pg_isready" in " ".join(services[DB]["healthcheck"]["test"])
    assert services["kestra"]["depends_on"] == {DB: {"condition": "service_healthy"}}


@pytest.mark.parametrize("kind", SERVER_FILES)
def test_production_restarts_limits_and_rotates_logs(kind: str) -> None:
    for name, service in load(kind)["services"].items():
        assert service.get("restart") in ("unless-stopped", "always"), f"{name}: restart policy"
        limits = service["deploy"]["resources"]["limits"]
        assert limits.get("cpus") and limits.get("memory"), f"{name}: resource limits"
        logging = service["logging"]
        assert logging["driver"] == "json-file", f"{name}: rotated logs"
        assert logging["options"]["max-size"] and logging["options"]["max-file"], f"{name}: log rotation"
    kestra = load(kind)["services"]["kestra"]
    assert "MaxRAMPercentage" in kestra["environment"]["JAVA_OPTS"], "the JVM sizes its heap from the limit"
    assert kestra.get("stop_grace_period"), "running tasks get time to finish on a redeploy"


@pytest.mark.parametrize("kind", FILES)
def test_data_lives_in_named_volumes_and_nothing_is_bind_mounted(kind: str) -> None:
    data = load(kind)
    declared = set(data.get("volumes") or {})
    mounts = {}
    for name, service in data["services"].items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, str):
                source, target = [*volume.split(":"), ""][:2]
            else:
                source, target = volume.get("source", ""), volume.get("target", "")
            assert source in declared, f"{name}: {volume} is not a named volume (Dokploy re-clones the checkout)"
            mounts[target] = source
    assert mounts.get("/var/lib/postgresql/data") and mounts.get("/app/storage")
    assert not any("docker.sock" in str(volume) for volume in declared)


@pytest.mark.parametrize("kind", FILES)
def test_no_docker_socket_no_root_no_privileges(kind: str) -> None:
    text = raw(kind)
    assert "docker.sock" not in re.sub(r"(?m)#.*$", "", text), "no Docker socket: it would hand flows the host"
    for name, service in load(kind)["services"].items():
        assert not service.get("privileged"), name
        assert str(service.get("user", "")).split(":")[0] not in ("root", "0"), f"{name}: runs as root"
        assert not service.get("cap_add"), name
        assert service.get("network_mode") != "host", name


@pytest.mark.parametrize("kind", SERVER_FILES)
def test_postgresql_publishes_no_port(kind: str) -> None:
    postgres = load(kind)["services"][DB]
    assert not postgres.get("ports"), "PostgreSQL is reachable from the stack's network only"


def test_prod_publishes_kestra_on_loopback_only() -> None:
    ports = load("prod")["services"]["kestra"]["ports"]
    assert ports == ["127.0.0.1:8080:8080"], "a local reverse proxy in front; the management port stays inside"


def test_local_publishes_on_loopback_only() -> None:
    for service in load("local")["services"].values():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), port


# --- Dokploy: network and Traefik -----------------------------------------------------------------------


def test_dokploy_network_is_external_and_only_kestra_joins_it() -> None:
    data = load("dokploy")
    assert data["networks"]["dokploy-network"] == {"external": True}
    assert set(data["services"]["kestra"]["networks"]) == {"default", "dokploy-network"}
    assert "dokploy-network" not in data["services"][DB].get("networks", [])
    for service in data["services"].values():
        assert not service.get("ports"), "nothing is published: Traefik routes over dokploy-network"
        assert not service.get("container_name"), "Dokploy names containers itself"


def labels_of(service: Mapping[str, Any]) -> dict[str, str]:
    labels = service.get("labels") or {}
    if isinstance(labels, dict):
        return {str(key): str(value) for key, value in labels.items()}
    pairs = [str(item).split("=", 1) for item in labels]
    assert all(len(pair) == 2 for pair in pairs), "labels are key=value"
    return {key.strip(): value.strip() for key, value in pairs}


def route_problems(labels: Mapping[str, str], prefix: str = WEBHOOK_PREFIX) -> list[str]:
    """What is wrong with a service's Traefik labels, for the rule: plain HTTP only redirects to HTTPS; the
    public router serves only the webhook prefix; every other router is limited to allowed source addresses;
    all HTTPS with the Let's Encrypt resolver."""
    lowered = {key.lower(): value for key, value in labels.items()}
    problems = []
    if lowered.get("traefik.enable") != "true":
        problems.append("traefik.enable is not true")
    if lowered.get("traefik.docker.network") != "dokploy-network":
        problems.append("traefik.docker.network is not dokploy-network")
    routers = sorted({key.split(".")[3] for key in lowered if key.startswith("traefik.http.routers.")})
    services = {key.split(".")[3] for key in lowered if key.startswith("traefik.http.services.")}
    if not routers:
        problems.append("no router")
    public = []
    redirects = []
    for router in routers:
        get = lambda option, router=router: lowered.get(f"traefik.http.routers.{router}.{option}", "")  # noqa: E731
        middlewares = [name.strip().split("@")[0] for name in get("middlewares").split(",") if name.strip()]
        if get("entrypoints") == "web":
            redirecting = [lowered.get(f"traefik.http.middlewares.{n}.redirectscheme.scheme") for n in middlewares]
            if middlewares and all(scheme == "https" for scheme in redirecting):
                redirects.append(router)
            else:
                problems.append(f"{router}: plain HTTP that does not redirect to HTTPS")
            continue
        if get("entrypoints") != "websecure":
            problems.append(f"{router}: entrypoints is not websecure")
        if get("tls.certresolver") != "letsencrypt":
            problems.append(f"{router}: no letsencrypt certresolver")
        if get("service") not in services:
            problems.append(f"{router}: its service is not defined on this container")
        allowlisted = any(
            lowered.get(f"traefik.http.middlewares.{name}.ipallowlist.sourcerange") for name in middlewares
        )
        if not allowlisted:
            public.append(router)
            rule = get("rule")
            expected = re.fullmatch(r"Host\(`([^`]+)`\) && PathPrefix\(`([^`]+)`\)", rule)
            if expected is None or expected[2] != prefix:
                problems.append(f"{router}: public, but its rule is not Host(...) && PathPrefix(`{prefix}`): {rule}")
    if len(public) != 1:
        problems.append(f"expected one public router (the webhooks), found {public}")
    if not redirects:
        problems.append("no router redirects plain HTTP to HTTPS")
    for service in services:
        if lowered.get(f"traefik.http.services.{service}.loadbalancer.server.port") != "8080":
            problems.append(f"{service}: not Kestra's port 8080")
    return problems


@pytest.mark.parametrize("kind", FILES)
def test_the_management_port_serves_health_only_without_details(kind: str) -> None:
    endpoints = kestra_configuration(resolved(kind))["endpoints"]
    assert endpoints["all"] == {"enabled": False, "sensitive": True}, "every endpoint off and sensitive by default"
    assert endpoints["health"] == {"enabled": True, "sensitive": False, "details-visible": "NEVER"}
    assert set(endpoints) == {"all", "health"}, "no other endpoint switched back on"


@pytest.mark.parametrize("kind", FILES)
def test_docker_waits_longer_than_kestras_own_termination_grace_period(kind: str) -> None:
    kestra = load(kind)["services"]["kestra"]
    grace = kestra_configuration(resolved(kind))["kestra"]["server"]["termination-grace-period"]
    assert grace == "5m", "Kestra's default (ServerConfig), stated"
    assert kestra["stop_grace_period"] == "6m", "a minute more, as Kestra's own compose file: tasks end, then stop"


@pytest.mark.parametrize("kind", FILES)
def test_the_database_has_a_name_no_other_stack_would_use(kind: str) -> None:
    services = set(load(kind)["services"])
    assert DB in services and "postgres" not in services, "`postgres` can resolve to another app's on a shared network"
    assert f"//{DB}:5432/" in kestra_configuration(resolved(kind))["datasources"]["postgres"]["url"]


def test_traefik_labels_route_only_the_webhook_prefix_publicly() -> None:
    data = resolved("dokploy")
    kestra = labels_of(data["services"]["kestra"])
    assert route_problems(kestra) == []
    assert not labels_of(data["services"][DB]), "PostgreSQL is not routed"
    host = filled_example("dokploy")["KESTRA_HOST"]
    rules = {key: value for key, value in kestra.items() if key.endswith(".rule")}
    assert rules and all(f"Host(`{host}`)" in rule for rule in rules.values()), "every router is for KESTRA_HOST"


def test_the_webhook_router_wins_its_prefix_and_limits_bodies() -> None:
    labels = {key.lower(): value for key, value in labels_of(resolved("dokploy")["services"]["kestra"]).items()}
    routers = {key.split(".")[3] for key in labels if key.startswith("traefik.http.routers.")}
    webhook = next(r for r in routers if "PathPrefix" in labels[f"traefik.http.routers.{r}.rule"])
    others = routers - {webhook}

    def priority(router: str) -> int:
        explicit = labels.get(f"traefik.http.routers.{router}.priority")
        return int(explicit) if explicit else len(labels[f"traefik.http.routers.{router}.rule"])

    assert all(priority(webhook) > priority(other) for other in others)
    middlewares = labels[f"traefik.http.routers.{webhook}.middlewares"].split(",")
    limits = [labels.get(f"traefik.http.middlewares.{name}.buffering.maxrequestbodybytes") for name in middlewares]
    assert any(limit and int(limit) <= 10 * 1024 * 1024 for limit in limits), "a body size limit on the public path"


def test_the_route_check_catches_what_it_must() -> None:
    good = labels_of(resolved("dokploy")["services"]["kestra"])
    assert route_problems(good) == []

    def without(predicate: Callable[[str], bool]) -> dict[str, str]:
        return {key: value for key, value in good.items() if not predicate(key)}

    # The whole host made public: the admin router loses its allow-list.
    opened = without(lambda key: key.endswith("christmas-kestra-admin.middlewares"))
    assert any("public" in problem for problem in route_problems(opened))
    # A public router wider than the webhook prefix.
    widened = copy.deepcopy(good)
    key = "traefik.http.routers.christmas-kestra-webhooks.rule"
    widened[key] = widened[key].replace(WEBHOOK_PREFIX, "/api/")
    assert any("PathPrefix" in problem for problem in route_problems(widened))
    # Plain HTTP, or no certificate resolver.
    plain = {**good, "traefik.http.routers.christmas-kestra-webhooks.entrypoints": "web"}
    assert any("christmas-kestra-webhooks: plain HTTP that does not redirect" in p for p in route_problems(plain))
    no_tls = without(lambda key: key.endswith("christmas-kestra-admin.tls.certresolver"))
    assert any("letsencrypt" in problem for problem in route_problems(no_tls))
    # Plain HTTP served instead of redirected, or no redirect at all.
    served = without(lambda key: key.endswith("christmas-kestra-http.middlewares"))
    assert any("does not redirect" in problem for problem in route_problems(served))
    no_redirect = without(lambda key: ".christmas-kestra-http." in key)
    assert "no router redirects plain HTTP to HTTPS" in route_problems(no_redirect)


def test_the_webhook_path_is_the_one_kestra_leaves_open() -> None:
    data = resolved("dokploy")
    rule = labels_of(data["services"]["kestra"])["traefik.http.routers.christmas-kestra-webhooks.rule"]
    prefix = re.search(r"PathPrefix\(`([^`]+)`\)", rule)
    assert prefix is not None
    assert kestra_configuration(data)["kestra"]["server"]["basic-auth"]["open-urls"] == [prefix[1]]


# --- the example env files ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
def test_each_example_lists_exactly_what_its_compose_file_reads(kind: str) -> None:
    """Every variable but the webhook keys, which the example says how to make (one per event kind: naming them here
    would be one more list of the kinds)."""
    read = {name for name, _, _ in file_references(kind)}
    listed = set(example(kind))
    assert read - listed - WEBHOOK_KEYS == set(), f"missing from .env.{kind}.example"
    assert listed - read - TOOL_VARIABLES == set(), f".env.{kind}.example sets what {FILES[kind]} never reads"
    assert not listed & WEBHOOK_KEYS, f".env.{kind}.example names a kind's webhook key"
    text = (ENV_DIR / f".env.{kind}.example").read_text(encoding="utf-8")
    assert "christmas-tasks secrets init" in text and "kestra-webhook-keys.yml" in text, "how to make the keys"


def test_every_compose_file_requires_each_event_kinds_webhook_key_from_one_list(
    validator: jsonschema.protocols.Validator,
) -> None:
    """docker/kestra-webhook-keys.yml is the kinds' list of keys (christmas_tasks/domain/events/), each required
    (`:?`, naming it), and the three compose files take it whole."""
    data = yaml.safe_load(WEBHOOK_KEYS_FILE.read_text(encoding="utf-8"))
    assert schema_errors(validator, data) == []
    keys = data["services"]["kestra-webhook-keys"]
    environment = keys["environment"]
    assert sorted(WEBHOOK_KEYS - set(environment)) == [], f"a kind's key missing from {WEBHOOK_KEYS_FILE.name}"
    assert sorted(set(environment) - WEBHOOK_KEYS) == [], f"{WEBHOOK_KEYS_FILE.name} names a key of no kind"
    for name, value in environment.items():
        ((ref, op, arg),) = references(value)
        assert (ref, op) == (name, ":?") and name in arg, f"{name}: ${{{name}:?...}}, naming it"
    for kind in FILES:
        service = yaml.safe_load(raw(kind))["services"]["kestra"]
        assert service["extends"] == {"file": WEBHOOK_KEYS_FILE.name, "service": "kestra-webhook-keys"}, kind
        assert not set(service["environment"]) & WEBHOOK_KEYS, f"{FILES[kind]} lists a webhook key of its own"


@pytest.mark.parametrize("kind", SERVER_FILES)
def test_server_examples_carry_no_secret_value(kind: str) -> None:
    for name, value in example(kind).items():
        if is_secret(name):
            assert value == "", f".env.{kind}.example: {name} must be empty in the example"


def test_the_local_example_secrets_are_valid_base64_and_the_webhook_keys_long(tmp_path: Path) -> None:
    values = example("local")
    lines = "".join(f"{name}={value}\n" for name, value in values.items() if name.startswith("SECRET_"))
    decode_env(lines)  # valid base64, every one
    # the webhook keys, as `christmas-tasks secrets init` makes them for a machine: long, random, URL-safe
    from christmas_tasks.entrypoints.cli import main

    made = tmp_path / ".env.local-secrets"
    assert main(["secrets", "init", str(made)]) == 0
    plain = dict(line.split("=", 1) for line in made.read_text(encoding="utf-8").splitlines())
    assert {f"SECRET_{name}" for name in plain} >= WEBHOOK_KEYS
    for name, value in plain.items():
        if name.startswith("WEBHOOK_KEY_"):
            assert re.fullmatch(r"[A-Za-z0-9_-]{32,256}", value), name
    assert len(set(plain[name.removeprefix("SECRET_")] for name in WEBHOOK_KEYS)) == len(WEBHOOK_KEYS), "each its own"
    key = values["KESTRA_ENCRYPTION_KEY"]
    assert len(base64.b64decode(key, validate=True)) == 32, "Kestra's key is 32 bytes, base64"


def test_the_e2e_inbox_is_in_an_example_file() -> None:
    inboxes = {kind: example(kind).get("E2E_TEST_EMAIL") for kind in FILES}
    assert E2E_TEST_EMAIL in inboxes.values()
    assert set(inboxes.values()) <= {E2E_TEST_EMAIL, None}


def test_env_files_with_values_are_ignored_by_git() -> None:
    ignore = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignore and ".env.*" in ignore and "!.env*.example" in ignore
