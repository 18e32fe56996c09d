"""Hosts trust the registry's CA: ``/etc/docker/certs.d/<host:port>/ca.crt`` on each host,
written over SSH (fabric, with bakery's key and known_hosts). Docker reads that folder on every
pull, so no engine restart is needed. Idempotent: an identical file is left as it is.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from bakery.definitions.targets import HostSpec, RegistrySpec
from bakery.errors import EngineError
from bakery.hosts.connect import new_client, open_client, policy_for
from bakery.registry import tls

CERTS_D = "/etc/docker/certs.d"


def ca_path_on_host(spec: RegistrySpec) -> str:
    return f"{CERTS_D}/{spec.address}/ca.crt"


def install_script(spec: RegistrySpec, ca_pem: str, sudo: bool = False) -> str:
    """Shell that writes the CA where docker looks, only when it differs; prints 'same' or
    'written'. Pure."""
    path = ca_path_on_host(spec)
    folder = path.rsplit("/", 1)[0]
    pre = "sudo -n " if sudo else ""
    q = shlex.quote
    return (f"if [ \"$({pre}cat {q(path)} 2>/dev/null)\" = {q(ca_pem.strip())} ]; then echo same; else "
            f"{pre}mkdir -p {q(folder)} && printf '%s\\n' {q(ca_pem.strip())} | {pre}tee {q(path)}.tmp "
            f">/dev/null && {pre}mv {q(path)}.tmp {q(path)} && echo written; fi")


def trust_on(host: HostSpec, state_dir: Path, spec: RegistrySpec) -> bool:
    """Install the CA on ``host`` (a rollout refuses unknown host keys, so this does too);
    whether the file was written now. A user other than root needs passwordless sudo."""
    import fabric  # heavy (invoke, fabric): only when a host is given the CA
    from paramiko import SSHConfig

    ca_pem = tls.files(state_dir).ca_cert.read_text()
    client = new_client(state_dir, policy_for(state_dir, first_contact=False))
    open_client(client, host, state_dir)
    conn = fabric.Connection(host.address, user=host.user, port=host.port,
                             config=fabric.Config(ssh_config=SSHConfig()))
    conn.client = client  # fabric's own would auto-accept any host key
    conn.transport = client.get_transport()
    try:
        result = conn.run(install_script(spec, ca_pem, sudo=host.user != "root"), hide=True, warn=True,
                          in_stream=False)
    finally:
        conn.close()
    if result.exited != 0:
        raise EngineError(f"{host.name}: cannot install the registry's CA at {ca_path_on_host(spec)}: "
                          f"{result.stderr.strip()[-300:]}")
    return result.stdout.strip().endswith("written")
