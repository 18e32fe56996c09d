"""testinfra tests for the package cache image, run by `bakery verify aptcache`.

Builds reach this cache as an HTTP proxy; what matters is that it answers as one, runs as its
own unprivileged user, keeps its files where bakery mounts the volume, and carries no proxy
setting of its own (it is the proxy; apt inside it goes to the mirror).
"""

import httpx

PORT = 3142


def test_runs_as_apt_cacher_ng_in_the_foreground(host):
    status = host.file("/proc/1/status").content_string
    uid = int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[2])
    assert uid == host.user("apt-cacher-ng").uid
    assert "apt-cacher-ng" in host.file("/proc/1/cmdline").content_string


def test_bakery_settings_are_read_and_root_owned(host):
    conf = host.file("/etc/apt-cacher-ng/zz-bakery.conf")
    assert conf.user == "root" and conf.mode == 0o644
    assert conf.contains("^Port: 3142") and conf.contains("^ForeGround: 1")


def test_cache_dir_belongs_to_the_cache(host):
    folder = host.file("/var/cache/apt-cacher-ng")
    assert folder.is_directory and folder.user == "apt-cacher-ng"


def test_report_page_answers(container_url):
    response = httpx.get(container_url(PORT, "/acng-report.html"), timeout=5)
    assert response.status_code == 200
    assert "Apt-Cacher NG" in response.text


def test_answers_as_a_proxy(image):
    # The verification network has no way out, so ask for something the cache refuses by its
    # own rule (a port it does not proxy to): the answer must come from apt-cacher-ng itself,
    # as a proxy answer, which is what apt sees when it uses http_proxy.
    with httpx.Client(proxy=f"http://{image.ip}:{PORT}", timeout=5) as client:
        response = client.get("http://127.0.0.1:1/debian/nothing.deb")
    assert response.status_code == 403
    assert "Apt-Cacher NG" in response.headers["server"]


def test_no_proxy_setting_of_its_own(host):
    assert host.run("grep -ril proxy /etc/apt").stdout.strip() == ""
