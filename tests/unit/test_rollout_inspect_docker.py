"""The drift inspector over a docker SDK client (rollout/adapters/inspect_docker.py), against a
stand-in client: what it reads, that it only reads, and that an SSH member is read through its
own host's client."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import docker.errors

from bakery.drift import facts as f
from bakery.rollout.adapters.inspect_docker import DockerInspector, HostsInspector, inspector_for


def tar_of(name: str, data: bytes) -> list[bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return [buf.getvalue()]


@dataclass
class Container:
    attrs: dict[str, Any]
    files: dict[str, bytes]
    changes: list[dict[str, Any]] = field(default_factory=list)
    exec_output: bytes = b""
    calls: list[str] = field(default_factory=list)

    def diff(self) -> list[dict[str, Any]]:
        self.calls.append("diff")
        return self.changes

    def exec_run(self, cmd: list[str], demux: bool = False) -> Any:
        self.calls.append("exec")
        return SimpleNamespace(exit_code=0, output=self.exec_output)

    def get_archive(self, path: str) -> tuple[list[bytes], dict]:
        self.calls.append(f"archive {path}")
        if path not in self.files:
            raise docker.errors.NotFound("no such file")
        return tar_of(path.rsplit("/", 1)[-1], self.files[path]), {}

    def remove(self, force: bool = False) -> None:
        self.calls.append("remove")


class Client:
    def __init__(self, member: Container, pristine: Container):
        self.member, self.pristine = member, pristine
        self.created: list[str] = []
        self.containers = SimpleNamespace(get=self._get, create=self._create)
        self.images = SimpleNamespace(get=self._image)

    def _get(self, cid: str) -> Container:
        if cid != "c1":
            raise docker.errors.NotFound("no such container")
        return self.member

    def _create(self, image: str, **kwargs: Any) -> Container:
        self.created.append(image)
        return self.pristine

    def _image(self, image_id: str) -> Any:
        if image_id != "sha256:aaa":
            raise docker.errors.ImageNotFound("gone")
        return SimpleNamespace(attrs={"Id": image_id, "Config": {"Cmd": ["nginx"], "User": "www-data"}})


def world() -> tuple[Client, Container, Container]:
    member = Container(
        attrs={"Name": "/m1", "Image": "sha256:aaa", "State": {"Status": "running"},
               "Config": {"Cmd": ["nginx"], "User": "www-data"}},
        files={"/var/www/html/index.html": b"defaced", "/etc/nginx/mime.types": b"same"},
        changes=[{"Path": "/var/www/html/index.html", "Kind": 0},
                 {"Path": "/etc/nginx/mime.types", "Kind": 0}],
        exec_output=f"self 30\n1 (nginx) S 0 1\tnginx{f.ARG_SEP}\n".encode())
    pristine = Container(attrs={}, files={"/var/www/html/index.html": b"<h1>1.0.0</h1>",
                                          "/etc/nginx/mime.types": b"same"})
    return Client(member, pristine), member, pristine


def test_a_member_is_read_and_changed_files_compared_with_the_images_copy() -> None:
    client, member, pristine = world()
    inspector = DockerInspector(client)  # type: ignore[arg-type]
    seen = inspector.member("c1", lambda facts: [p for p, _ in facts.changes], "sha256:aaa")
    assert seen.error == "" and seen.status == "running" and seen.reader_pid == 30
    assert [p.pid for p in seen.processes or ()] == [1]
    assert seen.content_differs == {"/var/www/html/index.html": True, "/etc/nginx/mime.types": False}
    assert client.created == ["sha256:aaa"] and pristine.calls[-1] == "remove"  # made and removed
    assert member.calls.count("exec") == 1 and "remove" not in member.calls  # one exec; never changed
    assert inspector.image("sha256:aaa").cmd == ("nginx",) and inspector.image("sha256:bbb") is None


def test_nothing_to_compare_creates_nothing_and_a_stopped_member_gets_no_exec() -> None:
    client, member, _ = world()
    member.attrs["State"]["Status"] = "exited"
    seen = DockerInspector(client).member("c1", lambda facts: [], "sha256:aaa")  # type: ignore[arg-type]
    assert seen.processes is None and client.created == [] and "exec" not in member.calls


def test_a_member_that_cannot_be_read_is_an_error_not_a_crash() -> None:
    client, _, _ = world()
    seen = DockerInspector(client).member("gone", lambda facts: [], "sha256:aaa")  # type: ignore[arg-type]
    assert seen.error.startswith("cannot inspect")


def test_ssh_members_are_read_through_their_hosts_client() -> None:
    engine, _, _ = world()
    asked: list[str] = []

    class Runtime:
        targets = object()
        local = engine

        def host(self, name: str) -> str:
            asked.append(name)
            return name

        def client(self, host: str) -> Client:
            if host == "down":
                raise OSError("ssh: connection refused")
            return engine

    inspector = inspector_for(Runtime())
    assert isinstance(inspector, HostsInspector)
    assert inspector.member("web-1/c1", lambda facts: [], "sha256:aaa").error == ""
    assert "connection refused" in inspector.member("down/c1", lambda facts: [], "sha256:aaa").error
    assert asked == ["web-1", "down"]
    assert isinstance(inspector_for(SimpleNamespace(client=engine)), DockerInspector)
