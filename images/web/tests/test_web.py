"""testinfra tests for the web image, run by `bakery verify web` against a throwaway container.

Fixtures (from bakery.verify.plugin): ``host`` (testinfra, as the image's user), ``root_host``
(as root), ``image`` (name, version, ports, ip) and ``container_url(port, path)``.
The image has no ps: processes are read from /proc.
"""

import httpx
import pytest

PORT = 8080


def nginx_processes(host):
    """(pid, uid, cmdline) of every nginx process, read from /proc."""
    script = ("for d in /proc/[0-9]*; do "
              "[ \"$(cat $d/comm 2>/dev/null)\" = nginx ] || continue; "
              "printf '%s %s %s\\n' \"${d#/proc/}\" \"$(awk '/^Uid:/{print $3}' $d/status)\" "
              "\"$(tr '\\0' ' ' < $d/cmdline)\"; done")
    out = host.check_output(script)
    rows = []
    for line in out.splitlines():
        pid, uid, cmdline = line.split(" ", 2)
        rows.append((int(pid), int(uid), cmdline))
    return rows


def test_nginx_light_is_the_installed_flavour(host):
    assert host.package("nginx-light").is_installed
    for heavier in ("nginx-full", "nginx-extras"):
        assert not host.package(heavier).is_installed


def test_config_is_ours_and_root_owned(host):
    conf = host.file("/etc/nginx/nginx.conf")
    assert conf.user == "root" and conf.group == "root"
    assert conf.mode == 0o644
    assert conf.contains("listen 8080;")
    assert conf.contains("location = /healthz")


def test_config_passes_nginx_syntax_check(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_www_data_cannot_change_the_config_or_the_site(host):
    for path in ("/etc/nginx/nginx.conf", "/var/www/html/index.html", "/var/www/html"):
        assert host.run("test -w %s", path).rc != 0, f"{path} is writable by {host.user().name}"


def test_master_and_workers_run_as_www_data(host):
    www_data = host.user("www-data").uid
    processes = nginx_processes(host)
    assert any("master process" in cmd for _, _, cmd in processes)
    workers = [p for p in processes if "worker process" in p[2]]
    assert len(workers) == 2, f"expected worker_processes 2, found {processes}"
    assert {uid for _, uid, _ in processes} == {www_data}


def test_default_debian_site_is_gone(host):
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    assert not host.file("/var/www/html/index.nginx-debian.html").exists


def test_writable_state_dirs_belong_to_www_data(host):
    for path in ("/run/nginx", "/var/lib/nginx/body", "/var/log/nginx"):
        folder = host.file(path)
        assert folder.is_directory, path
        assert folder.user == "www-data", f"{path} is owned by {folder.user}"


def test_page_shows_the_image_version(image, container_url):
    response = httpx.get(container_url(PORT, "/"), timeout=5)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert f'<p id="version">version {image.version}</p>' in response.text
    assert "@VERSION@" not in response.text


def test_version_endpoint_matches_the_image(image, container_url, host):
    response = httpx.get(container_url(PORT, "/version"), timeout=5)
    assert response.status_code == 200
    assert response.text.strip() == image.version
    assert host.environment()["BAKERY_IMAGE_VERSION"] == image.version


def test_healthz_says_ok(container_url):
    response = httpx.get(container_url(PORT, "/healthz"), timeout=5)
    assert response.status_code == 200
    assert response.text == "ok\n"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/nope", "/../etc/passwd", "/version.txt.bak"])
def test_unknown_paths_are_404(container_url, path):
    response = httpx.get(container_url(PORT, path), timeout=5)
    assert response.status_code in (400, 404)


def test_only_the_service_port_is_open(host, image):
    tcp = host.file("/proc/net/tcp").content_string + host.file("/proc/net/tcp6").content_string
    listening = set()
    for line in tcp.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":
            address, port = fields[1].rsplit(":", 1)
            if not address.startswith("0B00007F"):  # 127.0.0.11: the engine's embedded DNS
                listening.add(int(port, 16))
    assert listening == set(image.ports)
