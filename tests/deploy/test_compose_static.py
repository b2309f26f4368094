"""Static checks of docker/compose.{local,prod,dokploy,scaled}.yml, the webhook keys they share (one per event kind:
docker/kestra-webhook-keys.yml, Kestra's side and the edge's) and their docker/env/*.example files.

No Docker engine runs here, so the compose files are checked as data: they parse and match the Compose
specification's JSON schema (vendored in tests/deploy/data/), Compose's variable interpolation is
replayed with the example env files, and each deployment rule of the issue is a test that fails when a
careless edit breaks it: pinned images, the tested Kestra version, no secret with a default, health
checks, no Docker socket, no published PostgreSQL port, the flows loaded by Kestra's namespace update and not
`--flow-path`, the edge configured as `christmas-tasks serve` reads it (its settings parsed from the resolved file),
and Traefik routing the public host to the edge only, with Kestra's webhook path routed nowhere.
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

from christmas_tasks.entrypoints.edge.config import EdgeSettings, derived_names, forwarded_flows, posted_kinds
from christmas_tasks.entrypoints.edge.config import signing_secret_name as edge_signing_secret_name
from christmas_tasks.entrypoints.secrets_env import decode_env
from christmas_tasks.entrypoints.settings import EDGE_SETTINGS, webhook_keys

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENV_DIR = DOCKER / "env"
FLOWS = ROOT / "flows"
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
SCHEMA_SHA256 = "1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e"

FILES = {
    "local": "compose.local.yml",
    "prod": "compose.prod.yml",
    "dokploy": "compose.dokploy.yml",
    "scaled": "compose.scaled.yml",
}
DB = "christmas-kestra-db"  # the database service: no generic name on Dokploy's shared network
SERVER_FILES = ("prod", "dokploy", "scaled")
STANDALONE_FILES = ("local", "prod", "dokploy")  # Kestra as one `server standalone`
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
# Each posting sender's optional Standard Webhooks signing secret, the edge's alone (empty: checked by its key).
WEBHOOK_SECRETS = {edge_signing_secret_name(kind) for kind in posted_kinds()}
# The public edge (`christmas-tasks serve`), the one-shot flow loader, and what both run from the image.
EDGE = "edge"
DEPLOY = "deploy-flows"
ONE_SHOT = {DEPLOY}  # runs at every `up`, then exits: no health check, never restarted
EDGE_PORT = 8000
CLI = "/opt/christmas/venv/bin/christmas-tasks"


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


def extended(service: dict[str, Any], path: Path) -> dict[str, Any]:
    """A service with what it `extends` merged in as Compose merges it (the extended service's mappings first, its own
    entries over them), through chains: another file's service, or one of the same file (`file` left out)."""
    extends = service.get("extends")
    if not isinstance(extends, dict):
        return service
    other_path = DOCKER / extends["file"] if "file" in extends else path
    other = yaml.safe_load(other_path.read_text(encoding="utf-8"))
    base = extended(copy.deepcopy(other["services"][extends["service"]]), other_path)
    merged = {key: value for key, value in service.items() if key != "extends"}
    for key, value in base.items():
        if key != "extends":
            merged[key] = {**value, **service.get(key, {})} if isinstance(value, dict) else service.get(key, value)
    return merged


def load(kind: str) -> dict[str, Any]:
    """The compose file, each service with what it `extends` merged in."""
    data = yaml.safe_load(raw(kind))
    assert isinstance(data, dict), f"{FILES[kind]}: not a mapping"
    data["services"] = {name: extended(service, DOCKER / FILES[kind]) for name, service in data["services"].items()}
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
    """Kestra's environment: the standalone server's, or the webserver's where the components run apart (where every
    component has the same one: test_every_component_has_the_same_configuration)."""
    services = data["services"]
    environment = services["kestra" if "kestra" in services else "kestra-webserver"]["environment"]
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
    return any(word in name for word in ("SECRET", "PASSWORD", "TOKEN", "KEY", "USERNAME"))


def kestra_services(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Kestra's own services: each runs `server <component>`."""
    return {name: s for name, s in data["services"].items() if (s.get("command") or [""])[0] == "server"}


def image_services(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every service that runs the project's image: Kestra's, the edge, the one-shot flow loader."""
    return {name: s for name, s in data["services"].items() if name != DB}


def edge_environment(data: Mapping[str, Any]) -> dict[str, str]:
    environment = data["services"][EDGE]["environment"]
    assert isinstance(environment, dict), "the edge's environment is a mapping (NAME: value)"
    return environment


def url_host(url: str) -> str:
    match = re.fullmatch(r"http://([a-z0-9-]+):8080", url)
    assert match, f"{url}: http://<a service of the stack>:8080"
    return match[1]


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


@pytest.mark.parametrize("kind", STANDALONE_FILES)
def test_four_services_the_edge_kestra_its_database_and_the_flow_loader(kind: str) -> None:
    assert set(load(kind)["services"]) == {EDGE, "kestra", DB, DEPLOY}
    assert set(kestra_services(load(kind))) == {"kestra"}


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
    """Kestra, the edge and the flow loader run the one image, each with the same build: no service waits on a pull
    of a tag only another service builds."""
    services = image_services(load(kind))
    assert {"kestra", EDGE, DEPLOY} <= set(services) or {EDGE, DEPLOY} <= set(services)
    for name, service in services.items():
        build = service["build"]
        compose_dir = DOCKER
        assert (compose_dir / build["context"]).resolve() == ROOT, f"{name}: the build context is the repository root"
        assert (ROOT / build["dockerfile"]).resolve() == (DOCKER / "Dockerfile").resolve(), name
        assert "args" not in build, "versions come from the Dockerfile's ARG defaults (checked against versions.env)"
        tag = service["image"].rpartition(":")[2]
        assert tag == f"kestra-{versions()['KESTRA_VERSION']}", f"{service['image']}: tag it with the Kestra version"
    assert len({service["image"] for service in services.values()}) == 1, "one image"


def flows_in_the_image() -> str:
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    copied = re.findall(r"^COPY flows/ (\S+?)/?$", dockerfile, flags=re.MULTILINE)
    assert len(copied) == 1, "the flows are copied into the image once"
    return str(copied[0])


@pytest.mark.parametrize("kind", FILES)
def test_kestra_starts_without_flow_path_and_the_flow_loader_deploys_the_images_flows(kind: str) -> None:
    """`--flow-path` skips an invalid flow with a warning and keeps removed or renamed flows live with their webhooks:
    the flows are loaded by `christmas-tasks deploy` (validated by Kestra, then one namespace update with delete), a
    one-shot service that waits for Kestra to be healthy; the edge starts only once it succeeded."""
    data = load(kind)
    assert "--flow-path" not in re.sub(r"(?m)#.*$", "", raw(kind)), "no --flow-path, not even on another service"
    for name, kestra in kestra_services(data).items():
        assert kestra["command"][:2] == ["server", name.removeprefix("kestra-") if "-" in name else "standalone"]
    deploy = data["services"][DEPLOY]
    assert deploy["entrypoint"] == [CLI]
    assert deploy["command"] == ["deploy", "--flows", flows_in_the_image()]
    assert deploy["restart"] == "no", "a refused flow fails once, loudly; it is not retried in a loop"
    assert not deploy.get("ports") and not deploy.get("volumes") and not deploy.get("labels")
    (kestra_name,) = deploy["depends_on"]
    assert deploy["depends_on"] == {kestra_name: {"condition": "service_healthy"}}
    assert kestra_name in kestra_services(data)
    environment = deploy["environment"]
    assert url_host(environment["KESTRA_URL"]) == kestra_name, "Kestra's API on the stack's own network"
    assert set(environment) == {"KESTRA_URL", "KESTRA_USERNAME", "KESTRA_PASSWORD"}, "its three settings, no more"
    server = kestra_environment(data)
    for setting in ("KESTRA_USERNAME", "KESTRA_PASSWORD"):  # the basic-auth user and password Kestra is given
        assert references(environment[setting])[0][:2] == (references(server[f"CHRISTMAS_{setting}"])[0][0], ":?")
    assert data["services"][EDGE]["depends_on"] == {DEPLOY: {"condition": "service_completed_successfully"}}
    if kind != "local":
        assert deploy.get("networks", ["default"]) == ["default"], "on the stack's network only, where the name is ours"


def test_the_flow_loaders_url_is_one_the_deploy_command_accepts() -> None:
    from christmas_tasks.adapters.kestra_api import KestraClient

    for kind in FILES:
        url = load(kind)["services"][DEPLOY]["environment"]["KESTRA_URL"]
        KestraClient(url, "u@example.com", "Pw-12345678").close()  # plain http to a service name: accepted


# --- secrets and variables ------------------------------------------------------------------------------


def defaulted_secrets(refs: list[tuple[str, str | None, str]]) -> list[str]:
    """The secrets given a default or left optional: every secret is required (`:?` or `?`), but for a posting sender's
    optional signing secret, whose only default is empty (that sender is then checked by its key alone)."""
    optional_empty = [(name, ":-", "") for name in WEBHOOK_SECRETS]
    return [name for name, op, arg in refs if is_secret(name) and op not in (":?", "?")
            and (name, op, arg) not in optional_empty]


@pytest.mark.parametrize("kind", FILES)
def test_no_secret_has_a_default_value(kind: str) -> None:
    assert defaulted_secrets(file_references(kind)) == [], "a secret is required (`:?` or `?`), never defaulted"
    for name, op, arg in file_references(kind):
        if is_secret(name) and op in (":?", "?"):
            assert name in arg, f"${{{name}{op}...}}: the message names the variable"


def test_the_default_check_catches_a_defaulted_secret() -> None:
    text = ("x: ${SECRET_RESEND_API_KEY:-re_123}\ny: ${KESTRA_PASSWORD}\nz: ${TESTING_MODE:-false}\n"
            "a: ${WEBHOOK_SECRET_SIGNUP:-whsec_known}\nb: ${WEBHOOK_SECRET_SIGNUP:-}\nc: ${RESEND_WEBHOOK_SECRET:-}")
    bad = defaulted_secrets(references(text))
    assert bad == ["SECRET_RESEND_API_KEY", "KESTRA_PASSWORD", "WEBHOOK_SECRET_SIGNUP", "RESEND_WEBHOOK_SECRET"]


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


# --- the public edge ----------------------------------------------------------------------------------------


def edge_env_values(kind: str) -> dict[str, str]:
    """The example's values as an operator fills them in, with real-looking secrets where the edge checks their form:
    base64 webhook keys (as `secrets encode` writes them) and a whsec_ Resend secret."""
    values = filled_example(kind)
    for name in WEBHOOK_KEYS:
        values[name] = base64.b64encode(f"key-{name.lower()}-{'k' * 32}".encode()).decode()
    values["RESEND_WEBHOOK_SECRET"] = "whsec_" + base64.b64encode(b"r" * 24).decode()
    return values


@pytest.mark.parametrize("kind", FILES)
def test_the_edge_runs_christmas_tasks_serve_and_reads_exactly_its_own_settings(kind: str) -> None:
    data = load(kind)
    edge = data["services"][EDGE]
    assert edge["entrypoint"] == [CLI] and edge["command"][0] == "serve"
    environment = edge_environment(data)
    given = set(environment)
    unread = given - EDGE_SETTINGS - derived_names()
    assert not unread, f"not read by the edge: {sorted(unread)}"
    others = {"SECRET_NOTION_TOKEN", "SECRET_RESEND_API_KEY", "NOTION_TOKEN", "RESEND_API_KEY", "POSTGRES_PASSWORD",
              "CHRISTMAS_KESTRA_PASSWORD", "KESTRA_PASSWORD", "KESTRA_CONFIGURATION"}
    assert not given & others, "no secret the edge does not check"
    assert environment["EDGE_HOST"] == "0.0.0.0" and int(environment["EDGE_PORT"]) == EDGE_PORT
    host = url_host(environment["KESTRA_INTERNAL_URL"])
    assert host in kestra_services(data) or host in data["services"]["kestra"]["networks"]["default"]["aliases"]
    # the keys and the unsubscribe secret: Kestra's very variables, never a second copy
    server = kestra_environment(data)
    assert environment["SECRET_UNSUBSCRIBE_SECRET"].startswith("${SECRET_UNSUBSCRIBE_SECRET")
    assert server["SECRET_UNSUBSCRIBE_SECRET"].startswith("${SECRET_UNSUBSCRIBE_SECRET")
    for name in WEBHOOK_KEYS:
        assert environment[name] == server[name], f"{name}: the edge reads Kestra's own line"
    assert not given & {"UNSUBSCRIBE_SECRET", *(name.removeprefix("SECRET_") for name in WEBHOOK_KEYS)}, "no plain copy"


@pytest.mark.parametrize("kind", FILES)
def test_the_edge_configured_as_the_file_says_checks_every_sender(kind: str) -> None:
    """The resolved environment, parsed by the edge's own settings: every flow's key decoded from Kestra's form, the
    same bytes Kestra decodes; the unsubscribe secret; on a server, Calendly's and Resend's secrets too."""
    values = edge_env_values(kind)
    environment = edge_environment(resolved(kind, values))
    settings = EdgeSettings.from_env(environment)
    for flow in forwarded_flows():
        name = f"SECRET_WEBHOOK_KEY_{flow.upper().replace('-', '_')}"
        assert settings.keys[flow].reveal() == base64.b64decode(values[name]).decode(), flow
    assert settings.unsubscribe_secret is not None
    assert settings.unsubscribe_secret.reveal() == base64.b64decode(values["SECRET_UNSUBSCRIBE_SECRET"]).decode()
    assert settings.signing_secrets == {}, "no posting sender signs until its WEBHOOK_SECRET_<KIND> is set"
    assert settings.data_dir.as_posix() == environment["EDGE_DATA_DIR"]
    if kind in SERVER_FILES:
        assert settings.calendly_key is not None and settings.resend_secret is not None
        assert "senders checked: calendly, resend, unsubscribe" in settings.summary()
    signed = EdgeSettings.from_env(edge_environment(resolved(kind, {**values, "WEBHOOK_SECRET_SIGNUP": "whsec_"
                                                                    + base64.b64encode(b"w" * 24).decode()})))
    assert set(signed.signing_secrets) == {"signup"}, "an optional signing secret reaches the edge when set"


def step_settings(kind: str) -> dict[str, str]:
    """What the Kestra step hands the package, from the resolved file as flows/step.yml reads it: each `ENV_<NAME>` as
    NAME, each `SECRET_<NAME>` decoded, Kestra's `kestra.url` and the unsubscribe-link flow's key; only the names the
    step reads."""
    from christmas_tasks.entrypoints.settings import STEP_SETTINGS

    realistic = {"CAMPAIGN_DEADLINE": "2025-12-20", "EMAIL_FROM": "Example Consulting <hello@example.com>",
                 "SENDER_ADDRESS": "123 Example Street, Toronto", "CALENDLY_LINK": "https://calendly.com/example/call"}
    optional = dict.fromkeys(("EMAIL_REPLY_TO", "REPLY_ADDRESS", "REPLY_INBOX", "SEND_WINDOW", "SEND_BLACKOUT"), "")
    data = resolved(kind, {**filled_example(kind), **realistic, **optional})
    environment = kestra_environment(data)
    values = {name.removeprefix("ENV_"): value for name, value in environment.items() if name.startswith("ENV_")}
    secrets = {name.removeprefix("SECRET_"): base64.b64decode(value).decode()
               for name, value in environment.items() if name.startswith("SECRET_")}
    values |= secrets
    values["KESTRA_PUBLIC_URL"] = kestra_configuration(data)["kestra"]["url"]
    values["UNSUBSCRIBE_LINK_KEY"] = secrets["WEBHOOK_KEY_UNSUBSCRIBE_LINK"]
    return {name: value for name, value in values.items() if name in STEP_SETTINGS}


@pytest.mark.parametrize("kind", FILES)
def test_every_emails_unsubscribe_link_is_the_edges_page(kind: str, tmp_path: Path) -> None:
    """The link the package makes with the settings the file gives the step: the edge's /unsubscribe, never Kestra's
    own webhook, which no route reaches."""
    from christmas_tasks.entrypoints.edge.app import create_app
    from christmas_tasks.entrypoints.edge.config import EdgeSettings as Settings
    from christmas_tasks.entrypoints.settings import Settings as StepSettings

    edge = f"http://localhost:{EDGE_PORT}" if kind == "local" else f"https://{filled_example(kind)['EDGE_PUBLIC_HOST']}"
    environment = kestra_environment(resolved(kind))
    assert environment["ENV_EDGE_PUBLIC_URL"] == edge
    # UNSUBSCRIBE_URL is the business's own page, when it has one; without it, the link is the edge's
    link = StepSettings.from_env({**step_settings(kind), "UNSUBSCRIBE_URL": ""}).campaign.unsubscribe_link(
        "jane@example.com"
    )
    assert link.startswith(f"{edge}/unsubscribe?email=jane%40example.com&token="), link
    assert WEBHOOK_PREFIX not in link
    paths = {getattr(route, "path", None) for route in create_app(Settings(data_dir=tmp_path)).routes}
    assert "/unsubscribe" in paths


# --- the scaled-out layout: Kestra's components apart ------------------------------------------------------------

# Kestra 1.3's server components (io.kestra.core.models.ServerType of io.kestra:core:1.3.31, STANDALONE aside), each
# started as `kestra server <component>`
COMPONENTS = ("webserver", "executor", "scheduler", "indexer", "worker")


def test_the_scaled_layout_runs_each_kestra_component_as_its_own_service() -> None:
    data = load("scaled")
    components = kestra_services(data)
    assert {name: service["command"][1] for name, service in components.items()} == {
        f"kestra-{component}": component for component in COMPONENTS
    }
    assert set(data["services"]) == {*components, DB, EDGE, DEPLOY}
    for name, service in components.items():
        assert service["command"][:2] == ["server", name.removeprefix("kestra-")]
        assert not service.get("container_name"), f"{name}: compose names replicas itself"
    published = {name: service["ports"] for name, service in data["services"].items() if service.get("ports")}
    assert published == {"kestra-webserver": ["127.0.0.1:8080:8080"], EDGE: [f"127.0.0.1:{EDGE_PORT}:{EDGE_PORT}"]}


def test_every_component_has_the_same_configuration_as_the_production_server() -> None:
    """One configuration: the same database, storage, secrets and settings everywhere, and the same as the standalone
    production server's, so that moving between the two files changes where Kestra runs, not what it runs with."""
    scaled = load("scaled")
    production = load("prod")["services"]["kestra"]
    for name, service in kestra_services(scaled).items():
        assert service["environment"] == production["environment"], f"{name}: its environment is the production one"
        shared = ("image", "build", "volumes", "depends_on", "healthcheck", "stop_grace_period", "restart", "logging")
        for key in shared:
            assert service[key] == production[key], f"{name}: {key}"
    assert load("scaled")["name"] == load("prod")["name"], "the same project: the same named volumes, kept on a switch"


def test_the_scaled_layout_scales_the_workers_and_the_edge() -> None:
    services = load("scaled")["services"]
    worker = services["kestra-worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert int(worker["command"][worker["command"].index("--thread") + 1]) >= 4, "threads stated, not a default"
    edge = services[EDGE]["command"]
    assert edge[0] == "serve" and int(edge[edge.index("--workers") + 1]) >= 2
    assert url_host(edge_environment(load("scaled"))["KESTRA_INTERNAL_URL"]) == "kestra-webserver", "webhooks"
    assert url_host(services[DEPLOY]["environment"]["KESTRA_URL"]) == "kestra-webserver", "the API"


def test_the_scaled_example_is_the_production_one() -> None:
    """The same variables: the production env file works as it is."""
    assert example("scaled") == example("prod")


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
    """Every long-running service; the one-shot flow loader ends, and what waits on it waits for its exit code."""
    services = load(kind)["services"]
    for name, service in services.items():
        if name in ONE_SHOT:
            assert not service.get("healthcheck"), f"{name}: a one-shot service has no health to check"
            continue
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no health check"
    for name, kestra in kestra_services(load(kind)).items():
        kestra_test = " ".join(kestra["healthcheck"]["test"])
        assert "http://127.0.0.1:8081/health" in kestra_test, f"{name}: Kestra's /health on the management port"
        assert "/opt/christmas/venv/bin/python" in kestra_test, "the image's own Python (curl is not guaranteed)"
        assert kestra["depends_on"] == {DB: {"condition": "service_healthy"}}, name
    edge_test = services[EDGE]["healthcheck"]["test"]
    assert edge_test[:2] == ["CMD", "/opt/christmas/venv/bin/python"], "the image's own Python"
    assert f"http://127.0.0.1:{EDGE_PORT}/healthz" in " ".join(edge_test), "the edge's /healthz"
    assert "pg_isready" in " ".join(services[DB]["healthcheck"]["test"])


@pytest.mark.parametrize("kind", SERVER_FILES)
def test_production_restarts_limits_and_rotates_logs(kind: str) -> None:
    for name, service in load(kind)["services"].items():
        expected = ("no",) if name in ONE_SHOT else ("unless-stopped", "always")
        assert service.get("restart") in expected, f"{name}: restart policy"
        limits = service["deploy"]["resources"]["limits"]
        assert limits.get("cpus") and limits.get("memory"), f"{name}: resource limits"
        logging = service["logging"]
        assert logging["driver"] == "json-file", f"{name}: rotated logs"
        assert logging["options"]["max-size"] and logging["options"]["max-file"], f"{name}: log rotation"
    for name, kestra in kestra_services(load(kind)).items():
        assert "MaxRAMPercentage" in kestra["environment"]["JAVA_OPTS"], f"{name}: the JVM sizes its heap by its limit"
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
            assert mounts.get(target, source) == source, f"{target}: one volume, shared by the services that mount it"
            mounts[target] = source
    assert mounts.get("/var/lib/postgresql/data") and mounts.get("/app/storage")
    # the edge's folder (the ids already forwarded, shared by its workers) outlives a redeploy
    edge_dir = edge_environment(data)["EDGE_DATA_DIR"]
    assert mounts.get(edge_dir) and mounts[edge_dir] not in (mounts["/app/storage"], mounts["/var/lib/postgresql/data"])
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


def test_prod_publishes_the_edge_and_kestra_on_loopback_only() -> None:
    """A reverse proxy of your own in front: the public host to the edge, an allow-listed admin host to Kestra's UI
    (never its webhook path); the management port stays inside; nothing else is published."""
    services = load("prod")["services"]
    assert services[EDGE]["ports"] == [f"127.0.0.1:{EDGE_PORT}:{EDGE_PORT}"]
    assert services["kestra"]["ports"] == ["127.0.0.1:8080:8080"]
    assert {name for name, service in services.items() if service.get("ports")} == {EDGE, "kestra"}


def test_local_publishes_on_loopback_only() -> None:
    for service in load("local")["services"].values():
        for port in service.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), port


# --- Dokploy: network and Traefik -----------------------------------------------------------------------


def test_dokploy_network_is_external_and_only_the_routed_services_join_it() -> None:
    """Traefik reaches the edge and Kestra over dokploy-network; the database and the flow loader stay on the stack's
    own network. Nothing is published."""
    data = load("dokploy")
    assert data["networks"]["dokploy-network"] == {"external": True}
    joined = {name for name, service in data["services"].items() if "dokploy-network" in service.get("networks", [])}
    assert joined == {EDGE, "kestra"}
    assert set(data["services"]["kestra"]["networks"]) == set(data["services"][EDGE]["networks"]) == {
        "default", "dokploy-network"}
    for service in data["services"].values():
        assert not service.get("ports"), "nothing is published: Traefik routes over dokploy-network"
        assert not service.get("container_name"), "Dokploy names containers itself"


def test_the_edge_reaches_this_stacks_kestra_by_a_name_only_the_stacks_own_network_has() -> None:
    """On the shared dokploy-network `kestra` can also name another application's Kestra, which would then receive
    every webhook key: the edge forwards to an alias Kestra has on this stack's network alone."""
    data = load("dokploy")
    host = url_host(edge_environment(data)["KESTRA_INTERNAL_URL"])
    networks = data["services"]["kestra"]["networks"]
    assert host in networks["default"]["aliases"]
    assert not (networks["dokploy-network"] or {}).get("aliases"), "no alias on the shared network"
    assert host not in data["services"] and host != "kestra"


def labels_of(service: Mapping[str, Any]) -> dict[str, str]:
    labels = service.get("labels") or {}
    if isinstance(labels, dict):
        return {str(key): str(value) for key, value in labels.items()}
    pairs = [str(item).split("=", 1) for item in labels]
    assert all(len(pair) == 2 for pair in pairs), "labels are key=value"
    return {key.strip(): value.strip() for key, value in pairs}


def route_problems(
    labels: Mapping[str, str], *, port: int, public_host: str | None = None, prefix: str = WEBHOOK_PREFIX
) -> list[str]:
    """What is wrong with a service's Traefik labels, for the rules: plain HTTP only redirects to HTTPS; every HTTPS
    router has the Let's Encrypt resolver and a service of this container on `port`. With `public_host` (the edge):
    exactly one router, without an allow-list, for that whole host. Without (Kestra): no router open to everyone, and
    every one excludes Kestra's webhook prefix, which is routed nowhere."""
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
        rule = get("rule")
        if not allowlisted:
            public.append(router)
        if public_host is not None:
            if rule != f"Host(`{public_host}`)":
                problems.append(f"{router}: the edge's router is not its whole host, Host(`{public_host}`): {rule}")
        elif re.fullmatch(rf"Host\(`[^`]+`\) && !PathPrefix\(`{re.escape(prefix)}`\)", rule) is None:
            problems.append(f"{router}: does not exclude Kestra's webhook path, !PathPrefix(`{prefix}`): {rule}")
    if public_host is not None and (len(public) != 1 or len(routers) - len(redirects) != 1):
        problems.append(f"expected one public router (the edge's host), found {public} of {routers}")
    if public_host is None and public:
        problems.append(f"public, open to every address: {public}")
    if not redirects:
        problems.append("no router redirects plain HTTP to HTTPS")
    for service in services:
        if lowered.get(f"traefik.http.services.{service}.loadbalancer.server.port") != str(port):
            problems.append(f"{service}: not port {port}")
    return problems


def dokploy_labels() -> tuple[dict[str, str], dict[str, str]]:
    """The edge's and Kestra's labels, resolved with the example's values."""
    data = resolved("dokploy")
    return labels_of(data["services"][EDGE]), labels_of(data["services"]["kestra"])


def test_traefik_routes_the_public_host_to_the_edge_only_and_kestras_webhook_path_nowhere() -> None:
    data = resolved("dokploy")
    edge, kestra = dokploy_labels()
    hosts = filled_example("dokploy")
    assert hosts["EDGE_PUBLIC_HOST"] != hosts["KESTRA_HOST"]
    assert route_problems(edge, port=EDGE_PORT, public_host=hosts["EDGE_PUBLIC_HOST"]) == []
    assert route_problems(kestra, port=8080) == []
    for name, labels, host in ((EDGE, edge, "EDGE_PUBLIC_HOST"), ("kestra", kestra, "KESTRA_HOST")):
        rules = [value for key, value in labels.items() if key.endswith(".rule")]
        assert rules and all(rule.startswith(f"Host(`{hosts[host]}`)") for rule in rules), f"{name}: its own host"
    assert int(edge_environment(data)["EDGE_PORT"]) == EDGE_PORT
    for name in set(data["services"]) - {EDGE, "kestra"}:
        assert not labels_of(data["services"][name]), f"{name} is not routed"
    names = [set(re.findall(r"traefik\.http\.(?:routers|middlewares|services)\.([^.]+)\.", " ".join(labels)))
             for labels in (edge, kestra)]
    assert not names[0] & names[1], "the edge's routers, middlewares and services are its own"


def test_the_public_edge_router_limits_bodies_and_rates() -> None:
    edge, _ = dokploy_labels()
    labels = {key.lower(): value for key, value in edge.items()}
    (router,) = [key.split(".")[3] for key in labels if key.endswith(".entrypoints") and labels[key] == "websecure"]
    middlewares = labels[f"traefik.http.routers.{router}.middlewares"].split(",")
    limits = [labels.get(f"traefik.http.middlewares.{name}.buffering.maxrequestbodybytes") for name in middlewares]
    assert any(limit and int(limit) <= 10 * 1024 * 1024 for limit in limits), "a body size limit on the public host"
    assert any(labels.get(f"traefik.http.middlewares.{name}.ratelimit.average") for name in middlewares), "a rate limit"


def test_the_route_check_catches_what_it_must() -> None:
    edge, kestra = dokploy_labels()
    host = filled_example("dokploy")["EDGE_PUBLIC_HOST"]
    assert route_problems(edge, port=EDGE_PORT, public_host=host) == []
    assert route_problems(kestra, port=8080) == []

    def without(labels: dict[str, str], predicate: Callable[[str], bool]) -> dict[str, str]:
        return {key: value for key, value in labels.items() if not predicate(key)}

    # Kestra's UI and API made public: the admin router loses its allow-list.
    opened = without(kestra, lambda key: key.endswith("christmas-kestra-admin.middlewares"))
    assert any("public, open to every address" in problem for problem in route_problems(opened, port=8080))
    # Kestra's webhook path routed again: the exclusion dropped, or a router of its own.
    key = "traefik.http.routers.christmas-kestra-admin.rule"
    widened = {**kestra, key: kestra[key].split(" && ")[0]}
    assert any("does not exclude Kestra's webhook path" in p for p in route_problems(widened, port=8080))
    webhooks = {**kestra, "traefik.http.routers.christmas-kestra-webhooks.rule":
                f"Host(`kestra.example.com`) && PathPrefix(`{WEBHOOK_PREFIX}`)",
                "traefik.http.routers.christmas-kestra-webhooks.entrypoints": "websecure",
                "traefik.http.routers.christmas-kestra-webhooks.tls.certresolver": "letsencrypt",
                "traefik.http.routers.christmas-kestra-webhooks.service": "christmas-kestra"}
    problems = route_problems(webhooks, port=8080)
    assert any("christmas-kestra-webhooks: does not exclude" in p for p in problems)
    assert any("public, open to every address" in p for p in problems)
    # Plain HTTP, or no certificate resolver.
    plain = {**kestra, "traefik.http.routers.christmas-kestra-admin.entrypoints": "web"}
    assert "christmas-kestra-admin: plain HTTP that does not redirect to HTTPS" in route_problems(plain, port=8080)
    no_tls = without(edge, lambda key: key.endswith("christmas-edge.tls.certresolver"))
    assert any("letsencrypt" in problem for problem in route_problems(no_tls, port=EDGE_PORT, public_host=host))
    # Plain HTTP served instead of redirected, or no redirect at all.
    served = without(kestra, lambda key: key.endswith("christmas-kestra-http.middlewares"))
    assert any("does not redirect" in problem for problem in route_problems(served, port=8080))
    no_redirect = without(edge, lambda key: ".christmas-edge-http." in key)
    assert "no router redirects plain HTTP to HTTPS" in route_problems(no_redirect, port=EDGE_PORT, public_host=host)
    # The edge's router on another host, or narrowed to a path, or allow-listed, or pointed at Kestra's port.
    moved = {**edge, "traefik.http.routers.christmas-edge.rule": "Host(`kestra.example.com`)"}
    assert any("not its whole host" in p for p in route_problems(moved, port=EDGE_PORT, public_host=host))
    narrowed = {**edge, "traefik.http.routers.christmas-edge.rule": f"Host(`{host}`) && PathPrefix(`/hooks/`)"}
    assert any("not its whole host" in p for p in route_problems(narrowed, port=EDGE_PORT, public_host=host))
    fenced = {**edge, "traefik.http.routers.christmas-edge.middlewares": "christmas-edge-ips",
              "traefik.http.middlewares.christmas-edge-ips.ipallowlist.sourcerange": "203.0.113.10/32"}
    assert any("expected one public router" in p for p in route_problems(fenced, port=EDGE_PORT, public_host=host))
    kestras_port = {**edge, "traefik.http.services.christmas-edge.loadbalancer.server.port": "8080"}
    assert "christmas-edge: not port 8000" in route_problems(kestras_port, port=EDGE_PORT, public_host=host)


def test_the_path_traefik_never_routes_is_the_one_kestra_leaves_open_and_the_edge_forwards_to() -> None:
    """Kestra's basic auth leaves one path open, its webhooks; Traefik routes it nowhere; the edge forwards there over
    the stack's own network."""
    from christmas_tasks.entrypoints.edge.kestra import Kestra

    data = resolved("dokploy")
    _, kestra = dokploy_labels()
    rule = kestra["traefik.http.routers.christmas-kestra-admin.rule"]
    excluded = re.search(r"!PathPrefix\(`([^`]+)`\)", rule)
    assert excluded is not None
    assert kestra_configuration(data)["kestra"]["server"]["basic-auth"]["open-urls"] == [excluded[1]]
    forward = Kestra(edge_environment(data)["KESTRA_INTERNAL_URL"]).webhook_url("signup", "k" * 40)
    assert forward.split(":8080", 1)[1].startswith(excluded[1])


@pytest.mark.parametrize("kind", FILES)
def test_the_management_port_serves_health_only_without_details(kind: str) -> None:
    endpoints = kestra_configuration(resolved(kind))["endpoints"]
    assert endpoints["all"] == {"enabled": False, "sensitive": True}, "every endpoint off and sensitive by default"
    assert endpoints["health"] == {"enabled": True, "sensitive": False, "details-visible": "NEVER"}
    assert set(endpoints) == {"all", "health"}, "no other endpoint switched back on"


@pytest.mark.parametrize("kind", FILES)
def test_docker_waits_longer_than_kestras_own_termination_grace_period(kind: str) -> None:
    grace = kestra_configuration(resolved(kind))["kestra"]["server"]["termination-grace-period"]
    assert grace == "5m", "Kestra's default (ServerConfig), stated"
    for name, kestra in kestra_services(load(kind)).items():
        assert kestra["stop_grace_period"] == "6m", f"{name}: a minute more, as Kestra's own compose file"


@pytest.mark.parametrize("kind", FILES)
def test_the_database_has_a_name_no_other_stack_would_use(kind: str) -> None:
    services = set(load(kind)["services"])
    assert DB in services and "postgres" not in services, "`postgres` can resolve to another app's on a shared network"
    assert f"//{DB}:5432/" in kestra_configuration(resolved(kind))["datasources"]["postgres"]["url"]


# --- the example env files ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FILES)
def test_each_example_lists_exactly_what_its_compose_file_reads(kind: str) -> None:
    """Every variable but the webhook keys, which the example says how to make, and the posting senders' optional
    signing secrets, which it says how to add (one per event kind: naming them here would be one more list of the
    kinds)."""
    read = {name for name, _, _ in file_references(kind)}
    listed = set(example(kind))
    assert read - listed - WEBHOOK_KEYS - WEBHOOK_SECRETS == set(), f"missing from .env.{kind}.example"
    assert listed - read - TOOL_VARIABLES == set(), f".env.{kind}.example sets what {FILES[kind]} never reads"
    assert not listed & (WEBHOOK_KEYS | WEBHOOK_SECRETS), f".env.{kind}.example names a kind's webhook key or secret"
    text = (ENV_DIR / f".env.{kind}.example").read_text(encoding="utf-8")
    assert "christmas-tasks secrets init" in text and "kestra-webhook-keys.yml" in text, "how to make the keys"


def test_every_compose_file_requires_each_event_kinds_webhook_key_from_one_list(
    validator: jsonschema.protocols.Validator,
) -> None:
    """docker/kestra-webhook-keys.yml is the kinds' list of keys (christmas_tasks/domain/events/), each required
    (`:?`, naming it), and every compose file takes it whole: Kestra's side, and the edge's, which is the same list
    (`extends`) plus each posting sender's optional signing secret, empty by default."""
    data = yaml.safe_load(WEBHOOK_KEYS_FILE.read_text(encoding="utf-8"))
    assert schema_errors(validator, data) == []
    assert set(data["services"]) == {"kestra-webhook-keys", "edge-webhook-keys"}
    environment = data["services"]["kestra-webhook-keys"]["environment"]
    assert sorted(WEBHOOK_KEYS - set(environment)) == [], f"a kind's key missing from {WEBHOOK_KEYS_FILE.name}"
    assert sorted(set(environment) - WEBHOOK_KEYS) == [], f"{WEBHOOK_KEYS_FILE.name} names a key of no kind"
    for name, value in environment.items():
        ((ref, op, arg),) = references(value)
        assert (ref, op) == (name, ":?") and name in arg, f"{name}: ${{{name}:?...}}, naming it"
    edge_side = data["services"]["edge-webhook-keys"]
    assert edge_side["extends"] == {"service": "kestra-webhook-keys"}, "the edge's keys are Kestra's list itself"
    assert set(edge_side["environment"]) == WEBHOOK_SECRETS, "each posting sender's signing secret, no key again"
    for name, value in edge_side["environment"].items():
        assert references(value) == [(name, ":-", "")] and value == f"${{{name}:-}}", f"{name}: optional, empty"
    # what the edge forwards to is every kind's flow (the reply flow among them): each has its key in the list
    assert {f"SECRET_WEBHOOK_KEY_{flow.upper().replace('-', '_')}" for flow in forwarded_flows()} == WEBHOOK_KEYS
    for kind in FILES:
        services = yaml.safe_load(raw(kind))["services"]
        sides = {name: "kestra-webhook-keys" for name in kestra_services({"services": services})}
        sides[EDGE] = "edge-webhook-keys"
        for name, side in sides.items():
            service = services[name]
            assert service["extends"] == {"file": WEBHOOK_KEYS_FILE.name, "service": side}, f"{kind}: {name}"
            own = set(service["environment"]) & (WEBHOOK_KEYS | WEBHOOK_SECRETS)
            assert not own, f"{FILES[kind]}: {name} lists a webhook key or secret of its own"


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
