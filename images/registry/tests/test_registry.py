"""testinfra tests for the registry image, run by `bakery verify registry` in a throwaway
container. That container runs the baked config (plain HTTP on :5000); `bakery registry up`
adds TLS at run time, which tests/integration/test_registry.py covers.
"""

import httpx

PORT = 5000


def registry_uids(host):
    """The uid of every docker-registry process, read from /proc (the image has no ps)."""
    script = ("for d in /proc/[0-9]*; do [ \"$(cat $d/comm 2>/dev/null)\" = docker-registry ] || continue; "
              "awk '/^Uid:/{print $3}' $d/status; done")
    return {int(line) for line in host.check_output(script).split()}


def test_debians_registry_is_installed(host):
    assert host.package("docker-registry").is_installed
    assert host.file("/usr/bin/docker-registry").is_file


def test_config_is_ours_root_owned_and_holds_no_secret(host):
    conf = host.file("/etc/docker/registry/config.yml")
    assert conf.user == "root" and conf.mode == 0o644
    assert conf.contains("rootdirectory: /var/lib/docker-registry")
    assert conf.contains("addr: 127.0.0.1:5001")  # the health listener: loopback only
    assert not conf.contains("certificate") and not conf.contains("htpasswd")
    assert host.check_output("ls -A /etc/docker/registry/tls") == ""  # certificates come at run time


def test_runs_as_its_own_user_who_cannot_change_its_config(host):
    uid = host.user("docker-registry").uid
    assert registry_uids(host) == {uid}
    assert host.run("test -w /etc/docker/registry/config.yml").rc != 0
    assert host.file("/var/lib/docker-registry").user == "docker-registry"


def test_serves_the_v2_api_and_reports_health(host, container_url):
    response = httpx.get(container_url(PORT, "/v2/"), timeout=5)
    assert response.status_code == 200
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    health = host.run("bash -c 'exec 3<>/dev/tcp/127.0.0.1/5001 && "
                      "printf \"GET /debug/health HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3'")
    assert " 200 " in health.stdout.splitlines()[0] and health.stdout.rstrip().endswith("{}")
