"""testinfra tests for the Python app image, run by `bakery verify pyapp`."""

import httpx

PORT = 8000


def test_app_runs_as_its_own_unprivileged_user(host):
    app = host.user("app")
    assert app.uid < 1000 and app.shell == "/usr/sbin/nologin"
    status = host.file("/proc/1/status").content_string
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[2])
    assert uid == app.uid


def test_code_is_root_owned_and_read_only_for_the_app(host):
    code = host.file("/opt/pyapp/app.py")
    assert code.user == "root" and code.mode == 0o644
    assert host.run("test -w /opt/pyapp/app.py").rc != 0


def test_page_shows_greeting_and_version(image, container_url):
    response = httpx.get(container_url(PORT, "/"), timeout=5)
    assert response.status_code == 200
    assert response.json() == {"greeting": "hello from pyapp", "version": image.version}


def test_version_and_health(image, container_url):
    assert httpx.get(container_url(PORT, "/version"), timeout=5).text.strip() == image.version
    health = httpx.get(container_url(PORT, "/healthz"), timeout=5)
    assert health.status_code == 200 and health.text == "ok\n"


def test_unknown_paths_are_404(container_url):
    assert httpx.get(container_url(PORT, "/nope"), timeout=5).status_code == 404
