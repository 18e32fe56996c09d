"""The build context and rendered Dockerfile: copied files keep their own paths."""

import io
import tarfile
from pathlib import Path

import pytest

from bakery.build import fingerprint as fpmod
from bakery.build.docker_builder import PreparedBuild, build_context
from bakery.build.dockerfile import label_instructions, render
from bakery.definitions.image import FileSpec, ImageDefinition
from bakery.errors import BuildError


def make(tmp_path: Path, srcs: list[str]) -> ImageDefinition:
    folder = tmp_path / "images" / "t"
    for src in srcs:
        (folder / src).parent.mkdir(parents=True, exist_ok=True)
        (folder / src).write_text(f"content of {src}\n")
    files = tuple(FileSpec(src=s, dest=f"/opt/{Path(s).name}") for s in srcs)
    return ImageDefinition(name="t", version="0.1.0", base="debian:bookworm", folder=folder,
                           path=folder / "image.yaml", files=files, run=("true",))


def test_context_path_is_the_source_path_without_an_extra_files_folder():
    assert fpmod.context_path("files/nginx.conf") == "files/nginx.conf"
    assert fpmod.context_path("./files//a.txt") == "files/a.txt"


def test_context_holds_dockerfile_under_bakery_and_files_at_their_paths(tmp_path):
    d = make(tmp_path, ["files/a.txt", "b.txt"])
    prepared = PreparedBuild(d, "bakery/base/debian:bookworm", "sha256:x", "f" * 64,
                             render(d, "bakery/base/debian:bookworm"))
    with tarfile.open(fileobj=build_context(prepared)) as tar:
        names = tar.getnames()
        assert tar.extractfile("files/a.txt").read() == b"content of files/a.txt\n"
        dockerfile = tar.extractfile(fpmod.DOCKERFILE_PATH).read().decode()
    assert sorted(names) == sorted([fpmod.DOCKERFILE_PATH, "files/a.txt", "b.txt"])
    assert 'COPY ["files/a.txt", "/opt/a.txt"]' in dockerfile
    assert "files/files" not in dockerfile


def test_a_source_inside_bakery_folder_is_refused(tmp_path):
    d = make(tmp_path, [".bakery/Dockerfile"])
    prepared = PreparedBuild(d, "b", "sha256:x", "f" * 64, "FROM b\n")
    with pytest.raises(BuildError, match=r"\.bakery/"):
        build_context(prepared)


def test_builder_name_changes_the_fingerprint(tmp_path):
    d = make(tmp_path, ["files/a.txt"])
    digests = fpmod.file_digests(d)
    docker_fp = fpmod.fingerprint(d, digests, "sha256:base", "2")
    packer_fp = fpmod.fingerprint(d, digests, "sha256:base", "2", {"builder": "packer"})
    assert docker_fp != packer_fp
    (d.folder / "files/a.txt").write_text("content of files/a.txT\n")
    assert fpmod.fingerprint(d, fpmod.file_digests(d), "sha256:base", "2") != docker_fp


def test_context_tar_is_reproducible(tmp_path):
    d = make(tmp_path, ["files/a.txt"])
    prepared = PreparedBuild(d, "b", "sha256:x", "f" * 64, "FROM b\n")
    first, second = build_context(prepared).getvalue(), build_context(prepared).getvalue()
    assert first == second
    assert isinstance(io.BytesIO(first), io.BytesIO)


def test_labels_end_the_dockerfile_as_one_instruction_read_back_literally(tmp_path):
    d = make(tmp_path, ["b.txt"])
    prepared = PreparedBuild(d, "bakery/base/debian:bookworm", "sha256:x", "f" * 64,
                             render(d, "bakery/base/debian:bookworm"))
    lines, beside = label_instructions({"z.last": 'say "$HOME" \\ done', "a.first": "1"})
    assert beside == {}
    with tarfile.open(fileobj=build_context(prepared, lines)) as tar:
        dockerfile = tar.extractfile(fpmod.DOCKERFILE_PATH).read().decode()
    last = dockerfile.rstrip("\n").splitlines()[-1]
    assert dockerfile.count("LABEL ") == 1
    assert last == 'LABEL "a.first"="1" "z.last"="say \\"\\$HOME\\" \\\\ done"'
    assert dockerfile.startswith(prepared.dockerfile)  # the rest is what the fingerprint describes


def test_labels_fill_as_few_lines_as_fit_and_one_too_long_for_any_line_goes_beside():
    labels = {f"k{i}": "v" * 30 for i in range(10)} | {"huge": "h" * 200}
    lines, beside = label_instructions(labels, line_max=100)
    assert beside == {"huge": "h" * 200}
    assert all(len(line) <= 100 for line in lines) and len(lines) == 5  # two 37-char words a line
    assert " ".join(lines).count("=") == 10
    assert label_instructions({}) == ([], {})
