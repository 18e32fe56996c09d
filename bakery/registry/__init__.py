"""The registry bakery runs on this machine for its hosts: its TLS (a CA bakery keeps under
``.bakery/registry/``), the container on the local engine, pushes of verified images by an
immutable tag, and the hosts' trust of its CA.

Layer: above ``engine`` and ``hosts`` (it runs a container on the local engine and reaches
hosts over SSH), below ``build``/``rollout`` (the ``ssh`` runtime and the CLI use it).

The API other runtimes use (e.g. Swarm services)::

    settings = RegistrySettings.of(spec)                      # from a definition's targets.registry
    ref = ensure_pushed(state_dir, spec, name, fingerprint, image_id)  # "host:port/repo@sha256:..."
    trust_on(host, state_dir, spec)                           # the CA in /etc/docker/certs.d/ there
    check_pulled(host_name, ref, have_id, image_id)           # refuse a host whose image differs
"""
