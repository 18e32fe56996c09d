"""The generated haproxy.cfg: slots for both colours, runtime socket, no-loss retry settings."""

from pathlib import Path

from bakery.balancer.config import render
from bakery.definitions.rollout import load_rollout

REPO = Path(__file__).resolve().parents[2]


def test_render_staging():
    text = render(load_rollout(REPO / "rollouts/staging/web.yaml"))
    assert "stats socket /etc/bakery-lb/admin.sock mode 660 level admin" in text
    assert "server-template blue 1-20 127.0.0.1:8080" in text
    assert "server-template green 1-20 127.0.0.1:8080" in text
    assert "init-addr none disabled weight 0 check inter 500ms" in text
    assert "rise 2 fall 2" in text
    assert "option httpchk GET /healthz" in text
    for line in ("option redispatch 1", "retries 3", "retry-on conn-failure empty-response",
                 "http-reuse safe", "monitor-uri /healthz", "balance roundrobin"):
        assert line in text


def test_the_frontend_binds_exactly_listen_and_nothing_else_on_the_host(tmp_path):
    """On the host's network, two environments must not collide: the frontend binds `listen:`
    exactly, the monitor and the runtime API are unix sockets in the scope's own folder."""
    src = (REPO / "rollouts/staging/web.yaml").read_text()
    a = tmp_path / "staging" / "web.yaml"
    a.parent.mkdir()
    a.write_text(src.replace("listen: 127.0.0.1:8080", "listen: 127.0.0.2:18081"))
    text = render(load_rollout(a))
    binds = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("bind ", "stats socket"))]
    assert binds == ["stats socket /etc/bakery-lb/admin.sock mode 660 level admin expose-fd listeners",
                     "bind unix@/etc/bakery-lb/monitor.sock mode 660", "bind 127.0.0.2:18081"]
    a.write_text(src.replace("listen: 127.0.0.1:8080", "listen: '[::1]:8080'"))
    assert "bind ::1:8080" in render(load_rollout(a))
    assert "    noreuseport\n" in text  # a second LB on the same address fails instead of sharing it


def test_render_depends_on_health_not_on_replicas(tmp_path):
    src = (REPO / "rollouts/staging/web.yaml").read_text()
    a = tmp_path / "staging" / "web.yaml"
    a.parent.mkdir()
    a.write_text(src)
    first = render(load_rollout(a))
    a.write_text(src.replace("replicas: 2", "replicas: 5"))
    assert render(load_rollout(a)) == first  # a replica change never needs a reload
    a.write_text(src.replace("path: /healthz", "path: /ready"))
    assert "option httpchk GET /ready" in render(load_rollout(a))


def test_slots_follow_replicas_above_twenty(tmp_path):
    src = (REPO / "rollouts/staging/web.yaml").read_text()
    a = tmp_path / "staging" / "web.yaml"
    a.parent.mkdir()
    a.write_text(src.replace("replicas: 2", "replicas: 50"))
    text = render(load_rollout(a))
    assert "server-template blue 1-50 127.0.0.1:8080" in text
    assert "server-template green 1-50 127.0.0.1:8080" in text
