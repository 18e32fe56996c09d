"""The load balancer in front of each environment+service: HAProxy driven through its runtime API.

``commands`` and ``config`` are pure (command strings, stat parsing, rendered config);
``haproxy`` does the I/O (the LB container, its network and the admin socket).
"""
