"""Benchmark (issue 13, build and verify half): many images at the cost of one, verify near the floor.

    .venv/bin/python bench/bench_perf.py [--rounds 2] [--pairs 3] [--verify-runs 3]
        [--only build,patch,verify] [--write]

Side by side in one run, each pair interleaved (bakery, then the other, round after round), with
the machine's load average printed beside every pair (the engine is shared with other work):

  build   four images (web, lb, pyapp, worker) cold: `bakery build --all` (the package cache
          pruned first, so it is warmed by the first image of the run) vs four
          `DOCKER_BUILDKIT=0 docker build --no-cache` of the very Dockerfiles bakery renders.
          Each side builds FROM its own fresh base tag (the real base plus one LABEL: the same
          layers, a new id), so neither can reuse the other's layers. Also a single cold image
          (web) both ways in --pairs interleaved pairs a round (a 10 s build varies by up to
          7% from one run to the next), once a round bakery with the cache turned off, and
          once a round `docker build` on the network bakery gives its builds (the package
          cache's namespace, apt through the cache): the same engine work, bakery's own cost.
  patch   `bakery patch --all` of those four vs four `packer build` runs of the templates
          bakery's packer builder renders (Packer has no cache: a rebuild redoes every step):
          once with updates pending (the bench's base predates archive updates), once in the
          nightly case right after (nothing pending: the probe skips every rebuild), and that
          nightly case again with --rebuild (a candidate per image, as before the probe).
  verify  `bakery verify web` vs the floor: start the same image, wait for its health check,
          run plain `pytest --hosts=docker://ID` on images/web/tests with a 20-line conftest
          giving the two fixtures those tests use.

Everything is made under unique names and removed at the end; the package cache is left
running (it is meant to be). Ratios are bakery / other; read them as ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_build import docker_context, fresh_base_tag  # noqa: E402
from results import write_section  # noqa: E402

from bakery.build import cache  # noqa: E402
from bakery.build import docker_builder as dockerb  # noqa: E402
from bakery.build import fingerprint as fpmod  # noqa: E402
from bakery.build.packer_builder import artifact_id, packer_path, template_for  # noqa: E402
from bakery.engine.base import local_tag  # noqa: E402
from bakery.engine.client import engine  # noqa: E402
from bakery.project import Project  # noqa: E402

IMAGES = ("web", "lb", "pyapp", "worker")
COMMAND = ".venv/bin/python bench/bench_perf.py --write"
BAKERY = str(Path(sys.executable).parent / "bakery")
DOCKER = shutil.which("docker") or "docker"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def timed(cmd: list[str], env: dict[str, str] | None = None, stdin: str | None = None,
          allow_failure: bool = False) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          input=stdin, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0 and allow_failure:
        print(f"note: exit {proc.returncode}: {' '.join(cmd[:3])}: "
              f"{(proc.stdout + proc.stderr).strip().splitlines()[-1:]}", file=sys.stderr)
    elif proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


class Made:
    """What this run created, removed at the end (children before their bases)."""

    def __init__(self) -> None:
        self.refs: list[str] = []
        self.ids: list[str] = []

    def cleanup(self) -> None:
        client = engine()
        for image_id in self.ids:
            _remove(client, image_id)
        for ref in reversed(self.refs):
            for image in client.images.list(name=ref):
                for tag in image.tags:
                    if tag.rsplit(":", 1)[0] == ref.rsplit(":", 1)[0]:
                        _remove(client, tag)


def _remove(client, ref: str) -> None:
    try:
        client.images.remove(ref, force=True)
    except Exception as exc:  # noqa: BLE001 - best effort: report and keep going
        print(f"cleanup: {ref}: {exc}", file=sys.stderr)


def make_project(root: Path, suffix: str, base_ref: str, made: Made) -> tuple[Project, list[str]]:
    """The four images renamed <name><suffix> on ``base_ref``. No images/aptcache: the cache runs
    from the aptcache image bakery built on this engine, so `--all` means these four."""
    names = []
    for name in IMAGES:
        new = f"{name}{suffix}"
        folder = root / "images" / new
        shutil.copytree(REPO / "images" / name, folder)
        text = (folder / "image.yaml").read_text()
        text = re.sub(r"^name: .*$", f"name: {new}", text, count=1, flags=re.M)
        text = re.sub(r"^base: .*$", f"base: {base_ref}", text, count=1, flags=re.M)
        (folder / "image.yaml").write_text(text)
        names.append(new)
        made.refs.append(f"bakery/{new}")
    return Project(root), names


def env_for(project: Project, **extra: str) -> dict[str, str]:
    env = {"BAKERY_PROJECT": str(project.root), **extra}
    os.environ.pop("BAKERY_STATE_DIR", None)
    return env


def docker_contexts(project: Project, names: list[str], into: Path) -> list[list[str]]:
    """`docker build` commands for the Dockerfiles (their LABEL lines included) and contexts
    bakery renders (bench_build.docker_context)."""
    commands = []
    for name in names:
        ctx = into / name
        label_args = docker_context(project, name, ctx)
        commands.append([DOCKER, "build", "-q", "--no-cache", "-f", str(ctx / fpmod.DOCKERFILE_PATH),
                         "-t", f"bakery-bench/{name}:latest", *label_args, str(ctx)])
    return commands


def fresh_base(key: str, made: Made) -> str:
    """A fresh base tag for one cold build (see fresh_base_tag), removed at the end."""
    ref = fresh_base_tag(f"bench{key}")
    made.refs.append(local_tag(ref))
    return ref


def pair_ratio(ours: list[float], theirs: list[float]) -> float:
    """The median of the ratios of interleaved pairs (each pair ran side by side, so drift in
    the machine's speed between pairs cancels); the ratio of the medians when they do not pair."""
    if len(ours) == len(theirs):
        return statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
    return statistics.median(ours) / statistics.median(theirs)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}x" if b else "-"


def bench_build(tmp: Path, rounds: int, pairs: int, made: Made, rows: list[tuple[str, ...]]
                ) -> tuple[dict[str, list[float]], Project | None]:
    got: dict[str, list[float]] = {k: [] for k in ("all_b", "all_d", "one_b", "one_d", "one_off",
                                                   "one_same")}
    built: Project | None = None
    for r in range(rounds):
        run = uuid.uuid4().hex[:6]
        bases = {who: fresh_base(f"{run}{who}", made) for who in ("b", "d", "o")}
        # four images, cold: bakery build --all with the cache pruned first
        proj_b, _ = make_project(tmp / f"b{run}", f"b{run}", bases["b"], made)
        subprocess.run([BAKERY, "cache", "prune"], capture_output=True, env={**os.environ,
                       **env_for(proj_b)}, check=False)
        before = load()
        seconds, out = timed([BAKERY, "build", "--all"], env_for(proj_b))
        if "apt through the package cache" not in out:
            print("warning: bakery's build did not use the package cache", file=sys.stderr)
        got["all_b"].append(seconds)
        proj_d, names_d = make_project(tmp / f"d{run}", f"d{run}", bases["d"], made)
        made.refs += [f"bakery-bench/{n}" for n in names_d]
        started = time.monotonic()
        for cmd in docker_contexts(proj_d, names_d, tmp / f"ctx{run}"):
            timed(cmd, {"DOCKER_BUILDKIT": "0"})
        got["all_d"].append(time.monotonic() - started)
        rows.append(("build", f"round {r + 1}: four images cold", "bakery build --all (cache warmed "
                     "by the first image)", f"{got['all_b'][-1]:.1f}", "4x docker build --no-cache",
                     f"{got['all_d'][-1]:.1f}", ratio(got["all_b"][-1], got["all_d"][-1]),
                     f"{before} -> {load()}"))
        # one image (web), cold, in `pairs` interleaved pairs (one build is ~10 s and a pair
        # differs by up to 7% either way): bakery with the (now warm) cache, then docker
        for p in range(pairs):
            before = load()
            key = f"{run}{p}"
            proj_s, names_s = make_project(tmp / f"s{key}", f"s{key}", fresh_base(f"s{key}", made), made)
            got["one_b"].append(timed([BAKERY, "build", names_s[0]], env_for(proj_s))[0])
            proj_t, names_t = make_project(tmp / f"t{key}", f"t{key}", fresh_base(f"t{key}", made), made)
            made.refs += [f"bakery-bench/{names_t[0]}"]
            got["one_d"].append(timed(docker_contexts(proj_t, names_t[:1], tmp / f"ctxt{key}")[0],
                                      {"DOCKER_BUILDKIT": "0"})[0])
            rows.append(("build", f"round {r + 1}: web cold, pair {p + 1}", "bakery build web (cache warm)",
                         f"{got['one_b'][-1]:.1f}", "docker build --no-cache", f"{got['one_d'][-1]:.1f}",
                         ratio(got["one_b"][-1], got["one_d"][-1]), f"{before} -> {load()}"))
        # bakery without the cache once a round: its own overhead with apt going to the mirror
        proj_o, names_o = make_project(tmp / f"o{run}", f"o{run}", bases["o"], made)
        got["one_off"].append(timed([BAKERY, "build", names_o[0]],
                                    env_for(proj_o, BAKERY_APT_CACHE="off"))[0])
        rows.append(("build", f"round {r + 1}: web cold", "bakery build web (cache off)",
                     f"{got['one_off'][-1]:.1f}", "docker build --no-cache (median so far)",
                     f"{statistics.median(got['one_d']):.1f}",
                     ratio(got["one_off"][-1], statistics.median(got["one_d"])), ""))
        # docker build once a round on the network bakery gives its builds (the package cache's
        # namespace, apt through the cache): the same engine work, so the gap is bakery's own cost
        proj_n, names_n = make_project(tmp / f"n{run}", f"n{run}", fresh_base(f"n{run}", made), made)
        made.refs += [f"bakery-bench/{names_n[0]}"]
        same = docker_contexts(proj_n, names_n[:1], tmp / f"ctxn{run}")[0]
        opts = cache.engine_build_options(True)
        network = [f"--network={opts['network_mode']}",
                   f"--build-arg=HTTP_PROXY={opts['buildargs']['HTTP_PROXY']}"]
        got["one_same"].append(timed([*same[:2], *network, *same[2:]], {"DOCKER_BUILDKIT": "0"})[0])
        rows.append(("build", f"round {r + 1}: web cold", "bakery build web (median so far)",
                     f"{statistics.median(got['one_b']):.1f}", "docker build --no-cache on bakery's "
                     "build network and cache", f"{got['one_same'][-1]:.1f}",
                     ratio(statistics.median(got["one_b"]), got["one_same"][-1]), ""))
        built = proj_b
    return {k: v for k, v in got.items() if v}, built


def patch_once(project: Project, *flags: str) -> tuple[float, str]:
    """One `bakery patch --all --no-base-refresh --json`: its seconds and what it did, in words
    (statuses, and how many images the probe let skip their rebuild)."""
    started = time.monotonic()
    proc = subprocess.run([BAKERY, "patch", "--all", "--no-base-refresh", "--json", *flags],
                          capture_output=True, text=True, env={**os.environ, **env_for(project)},
                          check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"bakery patch failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                         f"{proc.stderr[-3000:]}")
    statuses = [image["status"] for image in json.loads(proc.stdout)["images"]]
    said = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    skipped = proc.stderr.count("probe: no pending upgrades; no rebuild")
    return seconds, f"{said}; {skipped} rebuild(s) skipped by the probe"


def bench_patch(tmp: Path, rounds: int, made: Made, rows: list[tuple[str, ...]],
                project: Project | None) -> dict[str, list[float]]:
    """bakery patch --all on a project whose four images are built, vs four Packer rebuilds.

    Per round: (a) "pending": a patch right after the build (the bench's base predates archive
    updates, so each image has upgrades: rebuilt, verified, recorded); (b) "nightly": a patch
    right after that, nothing pending (the probe decides, no image is rebuilt); (c) the same
    nightly case with --rebuild, the behaviour before the probe (a candidate per image, built
    and discarded). Packer always rebuilds; it runs once beside (a) and once beside (b)."""
    if project is None:
        run = uuid.uuid4().hex[:6]
        project, _ = make_project(tmp / f"p{run}", f"p{run}", fresh_base(f"{run}p", made), made)
        timed([BAKERY, "build", "--all"], env_for(project))
    names = project.image_names()
    templates = []
    for name in names:
        prepared = dockerb.prepare(project.load_image(name), builder="packer")
        templates.append(json.dumps(template_for(project, prepared)))
    packer = [packer_path(), "build", "-machine-readable", "-color=false", "-"]

    def packer_all() -> float:
        started = time.monotonic()
        for template in templates:
            _, packer_out = timed(packer, stdin=template)
            if image := artifact_id(packer_out):
                made.ids.append(image)
        return time.monotonic() - started

    got: dict[str, list[float]] = {k: [] for k in ("pending", "packer_p", "patch", "packer",
                                                   "rebuild")}

    def row(case: str, key: str, packer_key: str, packer_runs: bool, *flags: str) -> None:
        """`bakery patch --all` once (``flags`` added) into ``got[key]`` and its table row, beside
        four Packer rebuilds run now into ``got[packer_key]`` (``packer_runs``) or the last ones."""
        before = load()
        seconds, did = patch_once(project, *flags)
        got[key].append(seconds)
        if packer_runs:
            got[packer_key].append(packer_all())
        packer_s = got[packer_key][-1]
        rows.append(("patch", f"{case} ({did})",
                     " ".join(["bakery patch --all --no-base-refresh", *flags]), f"{seconds:.1f}",
                     "4x packer build (rebuild)" if packer_runs else "4x packer build (the row above)",
                     f"{packer_s:.1f}", ratio(seconds, packer_s), f"{before} -> {load()}"))

    for r in range(rounds):
        if r == 0:  # later rounds find the images patched already: (a) would be (b) again
            row(f"round {r + 1}: four images, updates pending", "pending", "packer_p", True)
        row(f"round {r + 1}: four images, nightly, nothing pending", "patch", "packer", True)
        row(f"round {r + 1}: four images, nightly, without the probe", "rebuild", "packer", False,
            "--rebuild")
    return dict(got)


FLOOR_CONFTEST = '''
import pytest

@pytest.fixture(scope="session")
def image():
    import types
    return types.SimpleNamespace(version="1.0.0", ports=(8080,), ip=IP)

@pytest.fixture(scope="session")
def container_url():
    return lambda port, path="/": f"http://{IP}:{port}{path}"
'''


def floor_once(image_id: str, tests: Path, tmp: Path) -> float:
    """Start the image, wait for the engine's health verdict, run plain testinfra on its tests."""
    client = engine()
    started = time.monotonic()
    container = client.containers.run(image_id, detach=True, labels={"io.bakery.bench": "floor"})
    try:
        while True:
            container.reload()
            health = (container.attrs["State"].get("Health") or {}).get("Status")
            if health == "healthy":
                break
            if health == "unhealthy" or container.status == "exited":
                raise SystemExit(f"floor container is {health or container.status}")
            time.sleep(0.1)
        ip = container.attrs["NetworkSettings"]["IPAddress"]
        folder = tmp / f"floor-{uuid.uuid4().hex[:6]}"
        shutil.copytree(tests, folder)
        (folder / "conftest.py").write_text(textwrap.dedent(FLOOR_CONFTEST).replace("IP", repr(ip)))
        timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               f"--hosts=docker://{container.id}", str(folder)], allow_failure=True)
    finally:
        container.remove(force=True)
    return time.monotonic() - started


def bench_verify(tmp: Path, runs: int, made: Made, rows: list[tuple[str, ...]]) -> dict[str, list[float]]:
    root = tmp / "verify"
    name = f"benchv{uuid.uuid4().hex[:6]}"
    shutil.copytree(REPO / "images" / "web", root / "images" / name)
    definition = root / "images" / name / "image.yaml"
    definition.write_text(definition.read_text().replace("name: web", f"name: {name}", 1))
    project = Project(root)
    made.refs.append(f"bakery/{name}")
    timed([BAKERY, "build", name], env_for(project))
    image_id = engine().images.get(f"bakery/{name}:1.0.0").id
    got: dict[str, list[float]] = {"verify": [], "floor": []}
    for r in range(runs):
        before = load()
        # a failed check still times the whole verification; the note says which
        got["verify"].append(timed([BAKERY, "verify", name], env_for(project), allow_failure=True)[0])
        got["floor"].append(floor_once(image_id, REPO / "images" / "web" / "tests", tmp))
        rows.append(("verify", f"run {r + 1}: web", "bakery verify web", f"{got['verify'][-1]:.2f}",
                     "start + health + pytest --hosts=docker://", f"{got['floor'][-1]:.2f}",
                     ratio(got["verify"][-1], got["floor"][-1]), f"{before} -> {load()}"))
    return dict(got)


SECTION = """## Many images, patch, verify near the floor (issue 13)

Command: `{command}` ({when}; {args}). Load average (1/5 min) before -> after each pair in
the last column: the engine and the 2 cores are shared with other work, so read the ratios
within a row, not the seconds across rows.

How it is made honest: every cold build is FROM its own fresh base tag (the real base plus one
unique LABEL: the same layers, a new image id), so no side reuses the other's layers;
`docker build` gets the very Dockerfile, context and labels bakery renders, through the
classic builder (`DOCKER_BUILDKIT=0`, the one the SDK drives), with `--no-cache`; Packer runs
the template bakery's packer builder renders. `bakery build --all` starts with the package
cache pruned (empty) and builds with its default `-j` (one image per core: 2 here); the
`docker build`s run one after another, as a script of four would (two of the four images,
pyapp and worker, install the same packages: bakery makes that layer once, a `docker build
--no-cache` twice). bakery runs its builds' steps in the package cache's network namespace;
plain `docker build` uses the engine's default bridge, and once a round `docker build` runs
on bakery's network and cache, so the table shows both. Patch, in one round on
four built images: (a) `patch --all` with updates pending (the bench's base predates archive
updates: every image is rebuilt, verified and recorded); (b) the nightly case right after,
where the probe (`apt-cache policy` in a throwaway container of each current image, through
the package cache) finds nothing pending; (c) the same nightly case with `--rebuild` (the
behaviour before the probe); Packer rebuilds beside (a) and (b), and (c) is read against
(b)'s Packer time. `--no-base-refresh`: the bench's base is a tag mmdebstrap cannot
bootstrap. The floor
for verify starts the same image on the default bridge, waits for the engine's health
verdict and runs plain `pytest --hosts=docker://ID` on images/web/tests (20-line conftest for
its `image` and `container_url` fixtures); bakery's side is its CLI end to end (two Python
start-ups, a private network, the built-in checks, JUnit-ready results, the state store).

| part | case | bakery | s | other | s | bakery / other | load |
|---|---|---|---:|---|---:|---:|---|
{rows}

Ratios (the median of the pairs' ratios): {medians}

{reading}"""


#: What the committed run and the others of the day say (bench/RESULTS.md); rewrite it when they change.
READING = """\
Reading (2026-12-01, evening). Two changes moved the build goals. (1) Twins: pyapp and worker
install the same packages; the package step now sits right on the base, and a twin waits for the
layer its sibling is making (docker_builder.PackageLayerGate), so `build --all` makes the
python3 layer once where four `docker build --no-cache` make it twice (before, two builds
running at once each made a SHELL layer of their own and the later twin missed the package
layer: worker rebuilt it in 8.5 s; now 2.3 s). `build --all` / four `docker build` since: 0.541
and 0.540 (the run before this one), 0.545 and 0.494 (this one, median 0.520), and in
side-by-side runs outside the bench 0.618, 0.572, 0.549, 0.489, 0.561 and 0.476: ten runs,
median 0.543, at or under 0.6 in 9 of 10 (the day's eleven runs before: median 0.583, 6 of 11).
`-j` 3 or 4 instead of the default 2: 0.461-0.497, a little better, not changed. (2) Build
network: bakery runs a build's steps in the package cache's network namespace, so the engine
makes no bridge sandbox for each RUN step. `docker build` of the web context on the default
bridge against the cache's namespace: 8.24 against 7.16 s (median of 5 pairs; the default bridge
against `--network host`: 8.89 against 7.80 s): the bridge sandbox is ~0.15 s a step. A single
cold image / `docker build` (default bridge): 0.977 in this run (pairs 0.862-1.074); 1.094 in
the run before this change, the same day (pairs 0.970-1.127); six rounds outside the bench
0.888-1.037, median 0.949. Against `docker build` given bakery's network and cache (the same
engine work) bakery is 1.094 here (ratio of medians: 8.2 s against 8.1 and 7.0 s) and 1.045
outside the bench: its own cost, ~0.4 s of Python start-up, imports, the definition and engine
lookups, tags and the state store. The program entry (bakery/__main__.py) no longer lets the
garbage collector walk start-up's objects, and freezes everything before exit: the interpreter's
shutdown after a build went from 0.08-0.13 s to ~0.02 s. The package cache itself saves little
on these machines (the mirror is fast; apt-get update is ~2.5 s of CPU, decompressing and
parsing the indexes, either way). Verify and the nightly patch hold in every run (verify 1.058
and 1.084, patch 0.192 and 0.213).
"""


class Rows(list):
    """The table's rows, each also printed as soon as it is measured (a long run that fails
    late still shows what it measured)."""

    def append(self, row: tuple[str, ...]) -> None:
        super().append(row)
        print("| " + " | ".join(row) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of build and patch")
    parser.add_argument("--pairs", type=int, default=3,
                        help="interleaved pairs of single cold builds (web) per round")
    parser.add_argument("--verify-runs", type=int, default=3)
    parser.add_argument("--only", default="build,patch,verify")
    parser.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    made = Made()
    rows: list[tuple[str, ...]] = Rows()
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bakery-bench-perf-") as tmp:
        try:
            built = None
            if "build" in parts:
                found, built = bench_build(Path(tmp), args.rounds, args.pairs, made, rows)
                times.update(found)
            if "patch" in parts:
                times.update(bench_patch(Path(tmp), args.rounds, made, rows, built))
            if "verify" in parts:
                times.update(bench_verify(Path(tmp), args.verify_runs, made, rows))
        finally:
            made.cleanup()
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    pairs = [("four images cold, build --all / 4x docker build", "all_b", "all_d", "goal 0.6x"),
             ("web cold, cache warm / docker build", "one_b", "one_d", "goal 1.05x"),
             ("web cold, cache off / docker build", "one_off", "one_d", ""),
             ("web cold, cache warm / docker build on bakery's network and cache", "one_b", "one_same", ""),
             ("patch --all, updates pending / 4x packer rebuild", "pending", "packer_p", ""),
             ("patch --all, nightly (probe) / 4x packer rebuild", "patch", "packer", "goal 0.3x"),
             ("patch --all --rebuild, nightly / 4x packer rebuild", "rebuild", "packer", ""),
             ("verify web / floor", "verify", "floor", "goal 1.2x")]
    summary = "; ".join(f"{label} = {pair_ratio(times[a], times[b]):.3f}x" + (f" ({goal})" if goal else "")
                        for label, a, b, goal in pairs if times.get(a) and times.get(b))
    print(summary)
    if args.write:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        shown = (f"--rounds {args.rounds} --pairs {args.pairs} --verify-runs {args.verify_runs} "
                 f"--only {args.only}")
        write_section(SECTION.format(command=COMMAND, when=when, args=shown, rows=table, reading=READING,
                                     medians=summary))
        print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
