"""Broken definitions, as data: each gets one exact `path:line: key: message` (invariant 7).

Every case runs twice: through the Python loader (Project.load_image / load_rollout)
and through the real CLI (`bakery --project <copy> lint`), which must exit 2 with the
same message on stderr, no traceback, and leave the project exactly as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bakery.cli import main
from bakery.errors import DefinitionError
from bakery.project import Project

WEB = "images/web/image.yaml"
STAGING = "rollouts/staging/web.yaml"
SECRET_HINT = "declare its name under secrets: and pass the value at run time"


@dataclass(frozen=True)
class Case:
    id: str
    target: str  # the file written, relative to the project
    expected: str | re.Pattern[str]  # the whole rendered error
    edits: tuple[tuple[str, str], ...] = ()  # (old, new) on the example, first occurrence
    text: str | None = None  # the whole file instead of edits
    start: str | None = None  # the example the edits apply to, when not target itself


CASES = [
    # --- YAML itself -------------------------------------------------------------------
    Case("malformed-yaml", WEB,
         "images/web/image.yaml:27: malformed YAML: expected ',' or ']', but got ':' "
         "(while parsing a flow sequence on line 26)",
         edits=(("ports: [8080]", "ports: [8080"),)),
    Case("malformed-yaml-indentation", STAGING,
         "rollouts/staging/web.yaml:7: malformed YAML: mapping values are not allowed here",
         edits=(("port: 8080", "   port: 8080"),)),
    Case("empty-file", WEB, "images/web/image.yaml:1: file is empty", text=""),
    Case("only-comments", STAGING, "rollouts/staging/web.yaml:1: file is empty",
         text="# nothing here yet\n"),
    Case("only-document-marker", WEB, "images/web/image.yaml:1: file is empty", text="---\n"),
    Case("not-a-mapping", WEB, "images/web/image.yaml:1: should be a mapping, got a list",
         text="- name: web\n"),
    Case("duplicate-key", WEB,
         "images/web/image.yaml:26: user: duplicate key (first defined on line 24)",
         edits=(("workdir: /var/www/html\n", "workdir: /var/www/html\nuser: root\n"),)),
    Case("duplicate-nested-key", STAGING,
         "rollouts/staging/web.yaml:11: health.path: duplicate key (first defined on line 10)",
         edits=(("  path: /healthz\n", "  path: /healthz\n  path: /ready\n"),)),
    Case("self-referencing-alias", WEB,
         "images/web/image.yaml:37: x[0]: malformed YAML: an alias refers to a node that contains it",
         edits=(("title: bakery example web\n", "title: bakery example web\nx: &loop [*loop]\n"),)),
    # --- shape: keys, types, ranges ---------------------------------------------------
    Case("unknown-key-did-you-mean", WEB,
         re.compile(r"images/web/image\.yaml:3: verison: unknown key \(did you mean 'version'\?\); "
                    r"known keys: name, version, description, base, (\w+, )*healthcheck(, \w+)*"),
         edits=(("version: 1.0.0", "verison: 1.0.0"),)),
    Case("unknown-nested-key", STAGING,
         "rollouts/staging/web.yaml:21: strategy.canary.stepz: unknown key (did you mean 'steps'?); "
         "known keys: steps",
         edits=(("    steps:", "    stepz:"),)),
    Case("missing-required-key", WEB, "images/web/image.yaml:2: missing required key 'base'",
         edits=(("base: debian:bookworm\n", ""),)),
    Case("missing-required-nested-key", STAGING,
         "rollouts/staging/web.yaml:4: image: missing required key 'name'",
         edits=(("  name: web\n", "  version: 1.0.0\n"),)),
    Case("string-where-int", STAGING,
         "rollouts/staging/web.yaml:6: replicas: should be an integer, got a string",
         edits=(("replicas: 2", "replicas: two"),)),
    Case("weight-out-of-range", STAGING,
         "rollouts/staging/web.yaml:24: strategy.canary.steps[1].weight: must be 0..100",
         edits=(("- weight: 50", "- weight: 150"),)),
    Case("nan-number", STAGING,
         "rollouts/staging/web.yaml:27: strategy.analysis.max_error_rate: should be a finite number, got nan",
         edits=(("max_error_rate: 0.01", "max_error_rate: .nan"),)),
    Case("bad-semver", WEB,
         "images/web/image.yaml:3: version: should be a semantic version like 1.2.3",
         edits=(("version: 1.0.0", "version: 1.0.x"),)),
    Case("bad-duration-image", WEB,
         "images/web/image.yaml:32: healthcheck.interval: should be a duration like 500ms, 5s or 2m, "
         "got '5 parsecs'",
         edits=(("  interval: 1s", "  interval: 5 parsecs"),)),
    Case("bad-duration-rollout", STAGING,
         "rollouts/staging/web.yaml:23: strategy.canary.steps[0].pause: should be a duration like 500ms, "
         "5s or 2m, got '5 parsecs'",
         edits=(("pause: 5s", "pause: 5 parsecs"),)),
    Case("argv-empty-list", WEB, "images/web/image.yaml:27: cmd: needs at least 1 item(s)",
         edits=(('cmd: [nginx, -g, "daemon off;"]', "cmd: []"),)),
    Case("argv-item-not-string", WEB, "images/web/image.yaml:27: cmd[1]: should be a string, got a number",
         edits=(('cmd: [nginx, -g, "daemon off;"]', "cmd: [sleep, 5]"),)),
    Case("argv-neither", WEB, "images/web/image.yaml:27: cmd: should be a string or a list, got a number",
         edits=(('cmd: [nginx, -g, "daemon off;"]', "cmd: 5"),)),
    # --- image semantics --------------------------------------------------------------
    Case("name-not-folder", WEB, "images/web/image.yaml:2: name: must match its folder name 'web'",
         edits=(("name: web", "name: www"),)),
    Case("src-missing", WEB,
         "images/web/image.yaml:9: files[0].src: file not found: files/nginx.conf.orig",
         edits=(("src: files/nginx.conf", "src: files/nginx.conf.orig"),)),
    Case("src-escapes", WEB, "images/web/image.yaml:13: files[1].src: escapes the image folder",
         edits=(("src: files/index.html.in", "src: ../lb/files/haproxy.cfg"),)),
    Case("src-absolute", WEB,
         "images/web/image.yaml:9: files[0].src: must be a path relative to the image folder",
         edits=(("src: files/nginx.conf", "src: /etc/passwd"),)),
    Case("dest-relative", WEB,
         "images/web/image.yaml:10: files[0].dest: must be an absolute, normalised path in the image",
         edits=(("dest: /etc/nginx/nginx.conf", "dest: etc/nginx/nginx.conf"),)),
    Case("dest-dotdot", WEB,
         "images/web/image.yaml:14: files[1].dest: must be an absolute, normalised path in the image",
         edits=(("dest: /usr/share/bakery-web/index.html.in", "dest: /usr/share/../../etc/shadow"),)),
    Case("env-secret-by-name", WEB,
         f"images/web/image.yaml:23: env.DB_PASSWORD: looks like a secret literal (name suggests a secret); "
         f"{SECRET_HINT}",
         edits=(("WEB_GREETING: hello from bakery", "DB_PASSWORD: hunter2"),)),
    Case("env-high-entropy", WEB,
         "images/web/image.yaml:23: env.WEB_GREETING: looks like a secret literal (value looks like a "
         f"random token (high entropy)); {SECRET_HINT}",
         edits=(("WEB_GREETING: hello from bakery", "WEB_GREETING: Zx9Qp2LmW7tR4vKa8NcYb3Tq"),)),
    Case("env-private-key", WEB,
         "images/web/image.yaml:23: env.TLS_KEY: looks like a secret literal (value looks like a "
         f"credential); {SECRET_HINT}",
         edits=(("WEB_GREETING: hello from bakery",
                 "TLS_KEY: |\n    -----BEGIN EC PRIVATE KEY-----\n    MHcCAQEEIBx\n"
                 "    -----END EC PRIVATE KEY-----"),)),
    Case("env-credential-in-url", WEB,
         "images/web/image.yaml:23: env.DATABASE_URL: looks like a secret literal (value looks like a "
         f"credential); {SECRET_HINT}",
         edits=(("WEB_GREETING: hello from bakery", "DATABASE_URL: postgres://app:s3cret@db:5432/app"),)),
    Case("label-secret", WEB,
         "images/web/image.yaml:36: labels.api-token: looks like a secret literal (name suggests a secret)",
         edits=(("org.opencontainers.image.title: bakery example web", "api-token: abc"),)),
    Case("run-private-key", WEB,
         "images/web/image.yaml:18: run[0]: contains a private key literal",
         edits=(('  - sed "s/@VERSION@/',
                 '  - echo "-----BEGIN OPENSSH PRIVATE KEY-----" > /k; sed "s/@VERSION@/'),)),
    Case("healthcheck-http-and-command", WEB,
         "images/web/image.yaml:28: healthcheck: needs exactly one of http or command",
         edits=(("  interval: 1s", "  command: curl -fsS http://127.0.0.1:8080/healthz\n  interval: 1s"),)),
    Case("healthcheck-empty", WEB,
         "images/web/image.yaml:28: healthcheck: needs exactly one of http or command",
         edits=(("healthcheck:\n  http:\n    path: /healthz\n    port: 8080\n  interval: 1s\n"
                 "  timeout: 2s\n  retries: 3\n", "healthcheck: {}\n"),)),
    Case("healthcheck-port-not-exposed", WEB,
         "images/web/image.yaml:31: healthcheck.http.port: is not one of the image's ports",
         edits=(("    port: 8080", "    port: 8081"),)),
    # --- what reaches the Dockerfile literally (issue 12.3) -------------------------------
    Case("workdir-expansion", WEB,
         "images/web/image.yaml:25: workdir: should be an absolute path of letters, digits and "
         "._+@%=,:~/- (no $, quotes, spaces or shell syntax: the engine would expand them)",
         edits=(("workdir: /var/www/html", "workdir: /$(touch${IFS}/tmp/x)"),)),
    Case("workdir-variable", WEB,
         "images/web/image.yaml:25: workdir: should be an absolute path of letters, digits and "
         "._+@%=,:~/- (no $, quotes, spaces or shell syntax: the engine would expand them)",
         edits=(("workdir: /var/www/html", "workdir: /home/$USER"),)),
    Case("dest-expansion", WEB,
         "images/web/image.yaml:10: files[0].dest: should be an absolute path of letters, digits and "
         "._+@%=,:~/- (no $, quotes, spaces or shell syntax: the engine would expand them)",
         edits=(("dest: /etc/nginx/nginx.conf", "dest: /etc/nginx/${IFS}nginx.conf"),)),
    Case("src-wildcard-or-expansion", WEB,
         "images/web/image.yaml:9: files[0].src: should be a relative path of letters, digits and "
         "._+@%=,:~/- (no $, wildcards, quotes or spaces: the engine would expand them and copy "
         "other files than the ones fingerprinted)",
         edits=(("src: files/nginx.conf", "src: files/*.conf"),)),
    Case("dest-proc", WEB,
         "images/web/image.yaml:10: files[0].dest: is under /proc, which the container runtime mounts "
         "over at run time: the file would be invisible",
         edits=(("dest: /etc/nginx/nginx.conf", "dest: /proc/sys/kernel/x"),)),
    Case("dest-dev", WEB,
         "images/web/image.yaml:14: files[1].dest: is under /dev, which the container runtime mounts "
         "over at run time: the file would be invisible",
         edits=(("dest: /usr/share/bakery-web/index.html.in", "dest: /dev"),)),
    Case("workdir-sys", WEB,
         "images/web/image.yaml:25: workdir: is under /sys, which the container runtime mounts "
         "over at run time: the file would be invisible",
         edits=(("workdir: /var/www/html", "workdir: /sys/x"),)),
    Case("label-right-to-left-override", WEB,
         "images/web/image.yaml:36: labels.org.opencontainers.image.title: holds U+202E "
         "(RIGHT-TO-LEFT OVERRIDE), an invisible or direction-changing character: what a reader "
         "sees is not what is stored",
         edits=(("image.title: bakery example web", "image.title: \"bakery \\u202Ebew\""),)),
    Case("label-zero-width", WEB,
         "images/web/image.yaml:36: labels.org.opencontainers.image.title: holds U+200B "
         "(ZERO WIDTH SPACE), an invisible or direction-changing character: what a reader "
         "sees is not what is stored",
         edits=(("image.title: bakery example web", "image.title: \"bakery\u200b web\""),)),
    Case("run-bidi", WEB,
         "images/web/image.yaml:20: run[2]: holds U+2066 (LEFT-TO-RIGHT ISOLATE), an invisible or "
         "direction-changing character: what a reader sees is not what is stored",
         edits=(("  - rm -f /var/www/html/index.nginx-debian.html",
                 "  - rm -f /var/www/html/index.nginx-debian.html \u2066"),)),
    Case("description-bom", WEB,
         "images/web/image.yaml:4: description: holds U+FEFF (ZERO WIDTH NO-BREAK SPACE), an invisible "
         "or direction-changing character: what a reader sees is not what is stored",
         edits=(("description: Example", "description: \ufeffExample"),)),
    # --- rollout semantics ------------------------------------------------------------
    Case("environment-not-folder", STAGING,
         "rollouts/staging/web.yaml:3: environment: is 'production' but the file lives in rollouts/staging/",
         edits=(("environment: staging", "environment: production"),)),
    Case("service-not-file-name", "rollouts/staging/api.yaml",
         "rollouts/staging/api.yaml:2: service: must match the file name 'api'", start=STAGING),
    Case("canary-weight-not-increasing", STAGING,
         "rollouts/staging/web.yaml:24: strategy.canary.steps[1].weight: must be greater than the previous "
         "step's weight",
         edits=(("- weight: 50", "- weight: 10"),)),
    Case("image-does-not-exist", STAGING,
         "rollouts/staging/web.yaml:5: image.name: no image definition named 'api' under images/",
         edits=(("  name: web", "  name: api"),)),
    Case("listen-port-out-of-range", STAGING,
         "rollouts/staging/web.yaml:8: listen: port must be 1..65535",
         edits=(("listen: 127.0.0.1:8080", "listen: 127.0.0.1:99999"),)),
]


def write_case(root: Path, case: Case) -> None:
    target = root / case.target
    if case.text is not None:
        text = case.text
    else:
        text = (root / (case.start or case.target)).read_text(encoding="utf-8")
        for old, new in case.edits:
            assert old in text, f"{case.id}: {old!r} is not in the example any more"
            text = text.replace(old, new, 1)
    target.write_text(text, encoding="utf-8")


def load(root: Path, target: str) -> None:
    project = Project(root)
    parts = Path(target).parts
    if parts[0] == "images":
        project.load_image(parts[1])
    else:
        project.load_rollout(parts[1], Path(parts[2]).stem)


def matches(expected: str | re.Pattern[str], actual: str) -> bool:
    if isinstance(expected, re.Pattern):
        return expected.fullmatch(actual) is not None
    return actual == expected


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_definition(project_copy: Path, case: Case) -> None:
    write_case(project_copy, case)
    before = snapshot(project_copy)

    with pytest.raises(DefinitionError) as caught:
        load(project_copy, case.target)
    error = caught.value
    assert matches(case.expected, str(error)), str(error)
    assert error.exit_code == 2
    assert error.line is not None, "every error names its line"

    result = CliRunner().invoke(main, ["--project", str(project_copy), "lint"])
    assert result.exit_code == 2, (result.output, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # only the broken file fails
    assert lines[0].startswith("✗ "), lines[0]
    assert matches(case.expected, lines[0][2:]), lines[0]

    assert not (project_copy / ".bakery").exists()
    assert snapshot(project_copy) == before


def test_enough_cases_and_unique_ids() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 18
