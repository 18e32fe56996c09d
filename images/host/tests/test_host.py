"""testinfra tests for the host image, run by `bakery verify host` in a throwaway container.

A plain container cannot run the engine inside (that needs the flags the test fixture gives),
so these check what the image is: the packages, sshd's config, and that no key of any kind is
baked in.
"""


def test_engine_ssh_and_iptables_are_installed(host):
    for name in ("docker.io", "openssh-server", "iptables"):
        assert host.package(name).is_installed


def test_sshd_takes_keys_only(host):
    conf = host.file("/etc/ssh/sshd_config.d/bakery.conf")
    assert conf.mode == 0o644
    assert conf.contains("^PasswordAuthentication no")
    assert conf.contains("^PermitRootLogin prohibit-password")


def test_sshd_runs(root_host):
    assert root_host.process.filter(comm="sshd")


def test_no_key_is_baked_in(root_host):
    out = root_host.check_output("ls /etc/ssh")
    # Host keys are made by the start script on each start; the image's layers hold none.
    assert "ssh_host_" in out  # made at this start
    assert not root_host.file("/root/.ssh/authorized_keys").exists
