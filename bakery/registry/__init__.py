"""The registry bakery runs on this machine for its hosts: its TLS (a CA bakery keeps under
``.bakery/registry/``), the container on the local engine, pushes of verified images by an
immutable tag, and the hosts' trust of its CA.

Layer: above ``engine`` and ``hosts`` (it runs a container on the local engine and reaches
hosts over SSH), below ``build``/``rollout`` (the ``ssh`` runtime and the CLI use it).

The API other runtimes use (e.g. Swarm services); ``spec`` is a definition's
``targets.registry`` (``RegistrySpec(host, port)``), the registry runs (``bakery registry up``,
or ``server.up(state_dir, settings, image_id)``)::

    ref = ensure_pushed(state_dir, spec, name, fingerprint, image_id)  # "host:port/bakery/name@sha256:..."
    trust_on(host, state_dir, spec)               # the CA into /etc/docker/certs.d/host:port/ there
    check_pulled(host_name, ref, have_id, image_id)  # RolloutError unless the host has that very image

(``bakery.registry.push`` and ``bakery.registry.trust``.) The caller checks the image is verified.
"""
