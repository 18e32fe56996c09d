"""bakery's registry, the pure parts: the CA and server certificate, where the registry is
configured (schema errors name file, line and key; exit 2), the decision on a host's pulled
image, the CA install script, and when the container must be remade."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from bakery.cli import main
from bakery.definitions.targets import HostSpec, RegistrySpec, Targets
from bakery.errors import RolloutError, UsageError
from bakery.project import Project
from bakery.registry import tls
from bakery.registry.push import check_pulled, digest_ref, immutable_tag
from bakery.registry.server import config_id
from bakery.registry.settings import RegistrySettings, merge
from bakery.registry.trust import ca_path_on_host, install_script
from tests.definition_support import assert_refused

STAGING = "rollouts/staging/web.yaml"
DIGEST = "sha256:" + "d" * 64


def _sans(cert: x509.Certificate) -> set[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in ext.get_values_for_type(x509.DNSName)} | {
        str(v) for v in ext.get_values_for_type(x509.IPAddress)}


def test_ca_signs_a_server_certificate_for_the_names_hosts_use():
    ca_key = tls.new_key()
    ca = tls.make_ca(ca_key)
    basic = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca and basic.path_length == 0
    key = tls.new_key()
    cert = tls.issue(ca, ca_key, key, ["registry.example.org", "10.0.0.9", "localhost", "127.0.0.1"])
    cert.verify_directly_issued_by(ca)
    assert _sans(cert) == {"registry.example.org", "10.0.0.9", "localhost", "127.0.0.1"}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert tls.covers(cert, ["10.0.0.9", "registry.example.org"], ca)
    assert not tls.covers(cert, ["other.example.org"], ca)  # a new name: a new certificate
    other_key = tls.new_key()
    assert not tls.covers(cert, ["10.0.0.9"], tls.make_ca(other_key))  # not this CA's
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=tls.SERVER_DAYS - 10)
    assert not tls.covers(cert, ["10.0.0.9"], ca, now=soon)  # renewed before it expires


def test_ensure_keeps_the_ca_and_reissues_only_for_a_new_name(tmp_path: Path):
    state = tmp_path / ".bakery"
    files, made = tls.ensure(state, ["reg.test"])
    assert made and stat.S_IMODE(os.stat(files.ca_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(files.key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(files.ca_cert.parent).st_mode) == 0o700
    ca_before, cert_before = files.ca_cert.read_bytes(), files.cert.read_bytes()
    assert tls.ensure(state, ["reg.test"]) == (files, False)
    assert files.cert.read_bytes() == cert_before
    _, again = tls.ensure(state, ["reg.test", "10.1.2.3"])
    assert again and files.ca_cert.read_bytes() == ca_before  # hosts keep trusting the same CA
    assert _sans(x509.load_pem_x509_certificate(files.cert.read_bytes())) == {
        "reg.test", "10.1.2.3", "localhost", "127.0.0.1"}


def test_a_pulled_image_must_be_the_verified_build():
    ref = digest_ref("reg.test:5443", "web", DIGEST)
    assert ref == f"reg.test:5443/bakery/web@{DIGEST}" and "@sha256:" in ref  # never a tag
    check_pulled("h1", ref, "sha256:good", "sha256:good")
    with pytest.raises(RolloutError, match=r"h1: .*@sha256:d+ is image sha256:bad.*not the verified build "
                                           r"sha256:good.*refusing that host"):
        check_pulled("h1", ref, "sha256:bad" + "0" * 58, "sha256:good")
    with pytest.raises(RolloutError, match="left no image there"):
        check_pulled("h1", ref, None, "sha256:good")
    assert immutable_tag("f" * 64) == "fp-" + "f" * 64  # the whole fingerprint: one tag, one content


def test_settings_merge_names_and_networks_and_refuse_two_ports():
    def t(address: str, port: int, network: str | None = None) -> Targets:
        return Targets((HostSpec("h", "10.0.0.1"),), network=network, registry=RegistrySpec(address, port))

    assert merge([("a", Targets((HostSpec("h", "10.0.0.1"),)))]) is None
    s = merge([("a", t("reg.test", 5443, "net1")), ("b", t("10.0.0.9", 5443)),
               ("c", t("reg.test", 5443, "net1"))])
    assert s == RegistrySettings(5443, ("reg.test", "10.0.0.9"), ("net1",))
    assert s.aliases == ("reg.test",)  # IPs are not network aliases
    with pytest.raises(UsageError, match="more than one port \\(5000 in b, 5443 in a\\)"):
        merge([("a", t("reg.test", 5443)), ("b", t("reg.test", 5000))])


def test_the_container_is_remade_when_what_it_runs_changes():
    s = RegistrySettings(5443, ("reg.test",), ("net1",))
    same = config_id(s, "sha256:img", "cert1")
    assert same == config_id(RegistrySettings(5443, ("reg.test",), ("net1",)), "sha256:img", "cert1")
    assert len({same, config_id(s, "sha256:img2", "cert1"), config_id(s, "sha256:img", "cert2"),
                config_id(RegistrySettings(5000, ("reg.test",)), "sha256:img", "cert1")}) == 4


def test_ca_install_script_writes_only_when_the_file_differs():
    spec = RegistrySpec("reg.test", 5443)
    assert ca_path_on_host(spec) == "/etc/docker/certs.d/reg.test:5443/ca.crt"
    script = install_script(spec, "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n")
    assert "echo same" in script and "echo written" in script and "sudo" not in script
    path = "/etc/docker/certs.d/reg.test:5443/ca.crt"
    assert f"mv {path}.tmp {path}" in script
    assert "sudo -n tee" in install_script(spec, "x", sudo=True)


def _write(root: Path, text: str) -> None:
    path = root / STAGING
    path.write_text(path.read_text() + text)


HOSTS = "targets:\n  hosts:\n    - {name: a, address: 10.0.0.1}\n"


def test_registry_loads_from_targets(project_copy):
    _write(project_copy, HOSTS + "  registry:\n    address: deploy.example.org:5443\n")
    t = Project(project_copy).load_rollout("staging", "web").targets
    assert t is not None and t.registry == RegistrySpec("deploy.example.org", 5443)
    assert t.registry.address == "deploy.example.org:5443"


@pytest.mark.parametrize("text,expected", [
    ("  registry:\n    address: deploy.example.org\n",
     "rollouts/staging/web.yaml:35: targets.registry.address: should be HOST:PORT, e.g. "
     "deploy.example.com:5443"),
    ("  registry:\n    address: deploy.example.org:99999\n",
     "rollouts/staging/web.yaml:35: targets.registry.address: port 99999 is not in 1..65535"),
    ("  registry:\n    adress: deploy.example.org:5443\n",
     "rollouts/staging/web.yaml:35: targets.registry.adress: unknown key (did you mean 'address'?); "
     "known keys: address"),
    ("  registry: {}\n", "rollouts/staging/web.yaml:34: targets.registry: missing required key 'address'"),
], ids=["no-port", "port-range", "unknown-key", "missing-address"])
def test_bad_registry_names_file_line_and_key(project_copy, text, expected):
    assert_refused(project_copy, HOSTS + text, expected)


def test_schema_describes_the_registry():
    schema = json.loads(CliRunner().invoke(main, ["schema", "rollout"]).stdout)
    registry = schema["properties"]["targets"]["properties"]["registry"]
    assert registry["required"] == ["address"] and set(registry["properties"]) == {"address"}


def test_push_and_registry_without_a_registry_configured_say_what_to_add(project_copy):
    result = CliRunner().invoke(main, ["--project", str(project_copy), "registry", "up"])
    assert result.exit_code == 2 and "no rollout definition names a registry" in result.stderr
