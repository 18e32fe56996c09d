"""The repository's own definitions load, with the values they say; lint and schema agree."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from bakery.cli import main
from bakery.definitions.image import IMAGE_SCHEMA, HealthCheck, load_image
from bakery.definitions.rollout import ROLLOUT_SCHEMA, CanaryStep, load_rollout
from bakery.project import Project

from .conftest import REPO

PROJECT = Project(REPO)


def test_web_image() -> None:
    web = PROJECT.load_image("web")
    assert web.ref == "web:1.0.0"
    assert web.base == "debian:bookworm"
    assert web.package_names() == ["nginx-light"]
    assert [(f.src, f.dest, f.mode, f.owner) for f in web.files] == [
        ("files/nginx.conf", "/etc/nginx/nginx.conf", "0644", "root:root"),
        ("files/index.html.in", "/usr/share/bakery-web/index.html.in", "0644", None),
    ]
    assert len(web.run) == 4
    assert web.env == {"WEB_GREETING": "hello from bakery"}
    assert (web.user, web.workdir, web.ports) == ("www-data", "/var/www/html", (8080,))
    assert web.cmd == ("nginx", "-g", "daemon off;")
    assert web.entrypoint is None
    assert web.healthcheck == HealthCheck(http_path="/healthz", http_port=8080, interval=1.0,
                                          timeout=2.0, retries=3, start_period=0.0)
    assert web.secrets == ()
    assert web.labels == {"org.opencontainers.image.title": "bakery example web"}
    assert web.path.parent == web.folder == REPO / "images" / "web"


def test_lb_image() -> None:
    lb = PROJECT.load_image("lb")
    assert lb.ref == "lb:1.0.0"
    assert lb.ports == (8080, 8404)
    assert lb.cmd == ("haproxy", "-W", "-db", "-f", "/etc/bakery-lb/haproxy.cfg")
    assert lb.healthcheck is not None and lb.healthcheck.http_port == 8404
    assert lb.user is None and lb.env == {}


def test_staging_rollout() -> None:
    staging = PROJECT.load_rollout("staging", "web")
    assert (staging.service, staging.environment) == ("web", "staging")
    assert (staging.image_name, staging.image_version) == ("web", None)
    assert (staging.replicas, staging.port) == (2, 8080)
    assert (staging.listen_host, staging.listen_port) == ("127.0.0.1", 8080)
    assert staging.health.interval == 0.5  # 500ms
    assert staging.health.start_timeout == 60.0
    assert staging.drain_timeout == 10.0
    assert staging.keep_previous == 1800.0  # 30m
    assert staging.canary_steps == (CanaryStep(10, 5.0), CanaryStep(50, 5.0))
    assert staging.analysis.probes == 40


def test_production_rollout() -> None:
    prod = PROJECT.load_rollout("production", "web")
    assert prod.image_version == "1.0.0"
    assert (prod.replicas, prod.listen_port) == (3, 8090)
    assert prod.health.start_timeout == 120.0
    assert prod.keep_previous == 86400.0  # 24h
    assert [s.weight for s in prod.canary_steps] == [5, 25, 50]
    assert [s.pause for s in prod.canary_steps] == [30.0, 60.0, 60.0]
    assert prod.analysis.max_error_rate == 0.005
    assert prod.analysis.max_p99_ms == 300


def test_rollout_defaults(project_copy: Path) -> None:
    path = project_copy / "rollouts" / "staging" / "web.yaml"
    path.write_text("service: web\nenvironment: staging\nimage: {name: web}\nport: 8080\n")
    rollout = load_rollout(path, project_copy)
    assert rollout.replicas == 2
    assert rollout.listen == "127.0.0.1:8080"
    assert rollout.health.path == "/healthz" and rollout.health.interval == 1.0
    assert (rollout.drain_timeout, rollout.keep_previous) == (30.0, 3600.0)
    assert rollout.canary_steps == (CanaryStep(10, 10.0), CanaryStep(50, 10.0))
    assert rollout.analysis.max_error_rate == 0.01


def test_image_defaults_and_shell_strings(project_copy: Path) -> None:
    path = project_copy / "images" / "web" / "image.yaml"
    path.write_text(
        "name: web\nversion: 2.0.0-rc.1\nbase: debian:bookworm\n"
        "cmd: nginx -g 'daemon off;'\n"
        "healthcheck:\n  command: curl -fsS http://127.0.0.1/healthz\n  interval: 250ms\n"
        "env:\n  WORKERS: 4\n  RATIO: 0.5\n"
        "labels:\n  org.opencontainers.image.authors: Alice Example\n"
    )
    image = load_image(path, project_copy)
    assert image.cmd == ("/bin/sh", "-c", "nginx -g 'daemon off;'")
    assert image.healthcheck == HealthCheck(
        command=("/bin/sh", "-c", "curl -fsS http://127.0.0.1/healthz"), interval=0.25,
        timeout=3.0, retries=3, start_period=0.0,
    )
    assert image.env == {"WORKERS": "4", "RATIO": "0.5"}
    assert (image.packages, image.files, image.run, image.ports) == ((), (), (), ())
    assert image.labels == {"org.opencontainers.image.authors": "Alice Example"}
    normalised = image.normalised()
    assert json.loads(json.dumps(normalised)) == normalised  # tuples became lists
    normalised["healthcheck"]["interval"] = 99
    assert image.healthcheck.interval == 0.25  # a copy, not the definition's own dict


def test_load_image_with_a_relative_path(project_copy: Path, monkeypatch) -> None:
    monkeypatch.chdir(project_copy / "images" / "web")
    assert load_image(Path("image.yaml")).name == "web"


def test_normalised_is_stable_and_json() -> None:
    first = PROJECT.load_image("web").normalised()
    second = PROJECT.load_image("web").normalised()
    assert first == second
    text = json.dumps(first, sort_keys=True)
    assert text == json.dumps(second, sort_keys=True)
    assert json.loads(text) == first
    assert "description" not in first  # prose does not change the image
    assert first["files"][0] == {"src": "files/nginx.conf", "dest": "/etc/nginx/nginx.conf",
                                 "mode": "0644", "owner": "root:root"}


def test_normalised_ignores_package_order(project_copy: Path) -> None:
    path = project_copy / "images" / "lb" / "image.yaml"
    text = path.read_text()
    path.write_text(text.replace("  - haproxy\n", "  - socat\n  - haproxy\n"))
    one = load_image(path, project_copy).normalised()
    path.write_text(text.replace("  - haproxy\n", "  - haproxy\n  - socat\n"))
    assert load_image(path, project_copy).normalised() == one


def test_lint_on_the_repository() -> None:
    result = CliRunner().invoke(main, ["--project", str(REPO), "lint"])
    assert result.exit_code == 0, result.stderr
    expected = len(list(REPO.glob("images/*/image.yaml"))) + len(list(REPO.glob("rollouts/*/*.yaml")))
    assert f"{expected} definition(s) valid" in result.stdout
    assert result.stderr == ""


def schema_output(kind: str) -> dict:
    result = CliRunner().invoke(main, ["schema", kind])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_schema_lists_every_key() -> None:
    everything = schema_output("all")
    assert set(everything) == {"image", "rollout"}
    image = schema_output("image")
    assert image == everything["image"]
    assert set(image["properties"]) == set(IMAGE_SCHEMA.fields)
    assert image["required"] == ["name", "version", "base"]
    assert image["additionalProperties"] is False
    rollout = schema_output("rollout")
    assert set(rollout["properties"]) == set(ROLLOUT_SCHEMA.fields)
    steps = rollout["properties"]["strategy"]["properties"]["canary"]["properties"]["steps"]
    assert steps["items"]["properties"]["weight"] == {"type": "integer", "minimum": 0, "maximum": 100}


def test_schema_validates_the_examples() -> None:
    """With jsonschema (not a dependency) a full validation; without it, the required keys."""
    schemas = schema_output("all")
    examples = {
        "image": [REPO / "images" / "web" / "image.yaml", REPO / "images" / "lb" / "image.yaml"],
        "rollout": sorted((REPO / "rollouts").glob("*/*.yaml")),
    }
    assert len(examples["rollout"]) == 2
    have_jsonschema = importlib.util.find_spec("jsonschema") is not None
    for kind, paths in examples.items():
        for path in paths:
            data = yaml.safe_load(path.read_text())
            if have_jsonschema:
                import jsonschema

                jsonschema.validate(data, schemas[kind])
            assert set(schemas[kind]["required"]) <= set(data)
            assert set(data) <= set(schemas[kind]["properties"])


def test_the_repository_images_still_lint(project_copy: Path) -> None:
    result = CliRunner().invoke(main, ["--project", str(project_copy), "lint"])
    assert result.exit_code == 0, result.output

