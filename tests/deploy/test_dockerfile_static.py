"""Static checks of docker/Dockerfile and .dockerignore (no Docker engine runs here).

The image must start from the Kestra release the tests run (kestra/versions.env), in the tag form Kestra
publishes (`v<version>`, `-no-plugins` for the variant without plugins), add the Python script plugin at
the tested version, put the package in its own virtualenv at the absolute path the flows call, and run
as Kestra's unprivileged user.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
VENV = "/opt/christmas/venv"


def versions() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / "kestra" / "versions.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions: comments dropped, backslash continuations joined."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
        pending = []
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


INSTRUCTIONS = parse(DOCKERFILE.read_text(encoding="utf-8"))


def stages() -> list[list[Instruction]]:
    """The build stages; stages()[0] holds the global ARGs before the first FROM."""
    result: list[list[Instruction]] = [[]]
    for instruction in INSTRUCTIONS:
        if instruction.keyword == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def global_args() -> dict[str, str]:
    args = {}
    for instruction in stages()[0]:
        assert instruction.keyword == "ARG", f"line {instruction.line}: only ARG may come before FROM"
        name, _, value = instruction.args.partition("=")
        args[name] = value.strip("\"'")
    return args


def expand(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        assert name in values, f"${name} has no value"
        return values[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, text)


def final_stage() -> list[Instruction]:
    return stages()[-1]


def runs() -> list[Instruction]:
    return [instruction for instruction in final_stage() if instruction.keyword == "RUN"]


def env() -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in final_stage():
        if instruction.keyword == "ENV":
            for item in shlex.split(instruction.args):
                name, sep, value = item.partition("=")
                assert sep, f"line {instruction.line}: write ENV NAME=value"
                values[name] = value
    return values


# --- the base image -------------------------------------------------------------------------------------


def test_the_versions_are_arg_defaults_equal_to_versions_env() -> None:
    args = global_args()
    pinned = versions()
    assert args["KESTRA_VERSION"] == pinned["KESTRA_VERSION"]
    assert args["KESTRA_PYTHON_PLUGIN_VERSION"] == pinned["KESTRA_PYTHON_PLUGIN_VERSION"]


def test_the_final_stage_is_kestra_at_the_tested_version_in_kestras_tag_form() -> None:
    base = expand(final_stage()[0].args, global_args())
    match = re.fullmatch(r"kestra/kestra:v(\d+\.\d+\.\d+)(-no-plugins)?", base)
    assert match, f"FROM {base}: Kestra tags releases v<version> (and v<version>-no-plugins)"
    assert match[1] == versions()["KESTRA_VERSION"]
    assert match[2] == "-no-plugins", "the plugins come from one pinned install, not the full image's set"


def test_every_base_image_is_pinned() -> None:
    args = global_args()
    for stage in stages()[1:]:
        image = expand(stage[0].args.split()[0], args)
        assert ":" in image and not image.endswith(":latest"), f"FROM {image}"
        assert re.search(r":v?\d+\.\d+\.\d+", image), f"FROM {image}: a full version"


def test_the_python_plugin_is_installed_at_the_tested_version() -> None:
    installs = [run for run in runs() if "plugins install" in run.args]
    assert len(installs) == 1, "one `kestra plugins install`"
    assert '"io.kestra.plugin:plugin-script-python:${KESTRA_PYTHON_PLUGIN_VERSION}"' in installs[0].args
    declared = [i for i in final_stage() if i.keyword == "ARG" and i.args == "KESTRA_PYTHON_PLUGIN_VERSION"]
    assert declared and declared[0].line < installs[0].line, "the global ARG is re-declared in the stage"
    assert "/app/kestra plugins install" in installs[0].args


# --- Python, the virtualenv and the package -------------------------------------------------------------


def test_the_package_lives_in_a_virtualenv_at_an_absolute_path() -> None:
    creates = [run for run in runs() if re.search(rf"\buv venv\b.*\s{re.escape(VENV)}(\s|$)", run.args)]
    assert creates, f"the virtualenv {VENV} is created"
    assert re.search(r"uv venv --python \"?\$\{PYTHON_VERSION\}", creates[0].args)
    python = [i for i in final_stage() if i.keyword == "ARG" and i.args.startswith("PYTHON_VERSION=")]
    assert python and tuple(map(int, python[0].args.split("=")[1].split("."))) >= (3, 11), "the package needs 3.11+"
    for run in runs():
        for install in re.findall(r"\b(?:uv )?pip install\b[^&]*", run.args):
            assert f"--python {VENV}/bin/python" in install, f"line {run.line}: install into the virtualenv only"
            assert " -e " not in install and "--editable" not in install, "a regular install, not editable"


def test_the_flows_command_path_is_the_virtualenvs_console_script() -> None:
    values = env()
    script = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert "christmas-tasks" in script
    assert values["ENV_CHRISTMAS_CLI"] == f"{VENV}/bin/christmas-tasks"
    assert values["PATH"].startswith(f"{VENV}/bin:")
    step = (ROOT / "flows" / "step.yml").read_text(encoding="utf-8")
    assert "{{ envs.christmas_cli ?? 'christmas-tasks' }} step request.json settings.json" in step
    smoke = [run for run in runs() if f"{VENV}/bin/christmas-tasks --help" in run.args]
    assert smoke, "the build fails when the console script does not start"


def test_layers_are_ordered_for_the_cache() -> None:
    order = {}
    for instruction in final_stage():
        if instruction.keyword == "COPY":
            for source in shlex.split(instruction.args)[:-1]:
                if not source.startswith("--"):
                    order.setdefault(source.rstrip("/"), instruction.line)
        elif instruction.keyword == "RUN" and "plugins install" in instruction.args:
            order["plugin"] = instruction.line
    assert order["plugin"] < order["pyproject.toml"] < order["christmas_tasks"] < order["flows"]
    assert order["README.md"] == order["pyproject.toml"], "pyproject.toml's readme is needed to build"
    assert "templates" not in order, "the templates are the package's own (christmas_tasks/templates)"


def test_the_templates_come_with_the_package_and_the_flows_are_where_the_command_says() -> None:
    values = env()
    copies = {shlex.split(i.args)[0].rstrip("/"): shlex.split(i.args)[-1].rstrip("/")
              for i in final_stage() if i.keyword == "COPY" and not i.args.startswith("--")}
    assert "ENV_CHRISTMAS_TEMPLATES_DIR" not in values, "the package's own templates are the default"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "templates/*.html" in pyproject["tool"]["setuptools"]["package-data"]["christmas_tasks"]
    cmd = [i for i in final_stage() if i.keyword == "CMD"]
    assert cmd, "a default command"
    command = yaml.safe_load(cmd[-1].args)
    # the flows are in the image for `christmas-tasks deploy --flows` (the compose files' deploy-flows service, which
    # tests/deploy/test_compose_static.py checks names this folder), never loaded with --flow-path: it skips an
    # invalid flow with a warning and keeps a removed one live
    assert command == ["server", "standalone"]
    assert copies["flows"] == "/opt/christmas/flows"


def test_the_folders_named_volumes_mount_on_belong_to_the_unprivileged_user() -> None:
    """A fresh named volume takes the owner of the folder it is mounted on: Kestra's storage and the edge's folder."""
    runs_text = " ".join(run.args for run in runs())
    for folder in ("/app/storage", "/app/edge"):
        assert re.search(rf"mkdir -p [^&]*{folder}\b", runs_text), folder
        assert re.search(rf"chown -R kestra:kestra [^&]*{folder}\b", runs_text), folder


def test_uv_is_used_at_build_time_only() -> None:
    assert not [i for i in final_stage() if i.keyword == "COPY" and "--from=uv" in i.args], "uv is mounted, not copied"
    for run in runs():
        if re.search(r"(^|\s|&&\s*)uv ", run.args):
            assert "--mount=from=uv" in run.args, f"line {run.line}: uv comes from a build-time mount"


# --- the user -------------------------------------------------------------------------------------------


def test_it_runs_as_kestras_unprivileged_user() -> None:
    users = [i.args for i in final_stage() if i.keyword == "USER"]
    assert users, "USER is set"
    assert users[-1] not in ("root", "0", "0:0"), "the image ends as a non-root user"
    assert users[-1] == "kestra"


def test_the_storage_volume_is_writable_by_that_user() -> None:
    text = " ".join(run.args for run in runs())
    assert "mkdir -p /app/storage" in text and re.search(r"chown -R kestra:kestra [^&]*/app/storage", text)


def test_no_docker_socket_and_no_secret_in_the_image() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "docker.sock" not in text
    for name in env():
        assert not name.startswith("SECRET_"), f"{name}: secrets come from the environment at run time"
        assert not re.search(r"PASSWORD|TOKEN|API_KEY", name), name


# --- what reaches the build -----------------------------------------------------------------------------


def dockerignore() -> list[str]:
    path = ROOT / ".dockerignore"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_dockerignore_lets_in_only_what_the_image_copies() -> None:
    rules = dockerignore()
    assert rules[0] == "*", "everything is excluded first"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {source.rstrip("/")
              for i in final_stage() if i.keyword == "COPY" and not i.args.startswith("--")
              for source in shlex.split(i.args)[:-1]}
    assert copied == allowed, "the build context is exactly what the Dockerfile copies"
    for secret_place in (".env", ".venv", ".git", "docker/.env", "tests"):
        assert secret_place not in allowed


@pytest.mark.parametrize("name", ["pyproject.toml", "README.md", "christmas_tasks", "flows"])
def test_every_copied_source_exists(name: str) -> None:
    assert (ROOT / name).exists()
