"""rollouts/<env>/<service>.yaml: how a service is run and rolled out in one environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakery.definitions import yamlsource
from bakery.definitions.image import SECRET_NAME, SemVer
from bakery.definitions.names import NAME
from bakery.definitions.secrets import secret_reason
from bakery.definitions.spec import Bool, Duration, ListOf, Num, Obj, Str
from bakery.definitions.targets import TARGETS_SCHEMA, Targets, load_targets
from bakery.definitions.text import check_strings
from bakery.definitions.yamlsource import join

NOTIFY_URL = r"[a-z][a-z0-9+.-]*://\S+"
SECRET_DELIVERIES = ("file", "env")  # the first is the default
NOTIFY_EVENTS = ("start", "verdict", "rollback", "success", "failure")
LISTEN = r"(\d{1,3}(\.\d{1,3}){3}|localhost|\[[0-9a-fA-F:]+\]):\d{1,5}"

# --- trust (issue 16): what an environment demands of an image before a rollout changes
# anything. A mapping so that more demands (e.g. promotion by evidence) can join it.
REQUIRES = Obj(
    {
        "signed_by": ListOf(Str(pattern=NAME, pattern_hint="a key name: keys/<name>.pub"),
                            min_items=1, unique=True,
                            description="public keys (keys/<name>.pub) that must have signed the "
                            "image's evidence"),
        "verified": Bool(description="a signed verification that passed"),
        "policy": Str(choices=("pass",), description="a signed policy result that passed"),
        # promotion by evidence (issue 14)
        "succeeded_in": ListOf(Str(pattern=NAME, pattern_hint="an environment: a folder under rollouts/"),
                               min_items=1, unique=True,
                               description="environments where the same fingerprint must have been "
                               "rolled out successfully first (e.g. [staging])"),
    },
    description="evidence the image must carry before this environment accepts it; checked "
    "before any change, naming what is missing",
)


@dataclass(frozen=True)
class Requirements:
    signed_by: tuple[str, ...] = ()
    verified: bool = False
    policy: str | None = None
    succeeded_in: tuple[str, ...] = ()  # promotion by evidence (issue 14)

    @property
    def demands_evidence(self) -> bool:
        return bool(self.signed_by or self.verified or self.policy)
# --- end trust

ROLLOUT_SCHEMA = Obj(
    {
        "service": Str(pattern=NAME, pattern_hint="lowercase letters, digits and dashes"),
        "environment": Str(pattern=NAME, pattern_hint="lowercase letters, digits and dashes"),
        "image": Obj(
            {"name": Str(pattern=NAME, pattern_hint="an image name under images/"),
             "version": SemVer()},
            required=("name",),
        ),
        "replicas": Num(minimum=1, maximum=200),
        "parallelism": Num(minimum=1, maximum=32,
                           description="members started and health-checked at once (default 8)"),
        "port": Num(minimum=1, maximum=65535, description="the port the service listens on"),
        "listen": Str(pattern=LISTEN, pattern_hint="host:port like 127.0.0.1:8080",
                      description="where the load balancer listens"),
        "health": Obj(
            {
                "path": Str(pattern=r"/\S*", pattern_hint="an absolute URL path like /healthz"),
                "interval": Duration(minimum=0.1, maximum=600),
                "timeout": Duration(minimum=0.1, maximum=600),
                "healthy_threshold": Num(minimum=1, maximum=100),
                "unhealthy_threshold": Num(minimum=1, maximum=100),
                "start_timeout": Duration(minimum=1, maximum=3600),
            },
            required=("path",),
        ),
        "strategy": Obj(
            {
                "blue_green": Obj({
                    "drain_timeout": Duration(maximum=3600),
                    "keep_previous": Duration(maximum=7 * 86400,
                                              description="how long the previous fleet "
                                              "stays for instant rollback"),
                }),
                "canary": Obj(
                    {"steps": ListOf(
                        Obj({"weight": Num(minimum=0, maximum=100),
                             "pause": Duration(maximum=86400)},
                            required=("weight",)),
                        min_items=1)},
                    required=("steps",),
                ),
                "analysis": Obj({
                    "max_error_rate": Num(minimum=0, maximum=1, integer=False),
                    "max_p99_ms": Num(minimum=1, maximum=600000, integer=False),
                    "min_requests": Num(minimum=1, maximum=10_000_000),
                    "probes": Num(minimum=0, maximum=100000,
                                  description="active httpx probes sent to the canary per step"),
                }),
            }
        ),
        "secrets": ListOf(Str(pattern=SECRET_NAME, pattern_hint="an UPPER_CASE name"),
                          unique=True,
                          description="secret names; values come from the environment "
                          "(BAKERY_SECRET_<NAME>) at run time"),
        "secret_delivery": Str(choices=SECRET_DELIVERIES,
                               description="how members get the secrets: file (default, "
                               "/run/secrets/<NAME>, never in the container's env) or env "
                               "(environment variables, which `docker inspect` shows)"),
        "notify": Obj(
            {
                "urls": ListOf(Str(pattern=NOTIFY_URL, pattern_hint="an apprise URL like "
                                   "json://host:port/path"), unique=True,
                               description="apprise URLs told about start, verdicts, success, failure, "
                               "rollback"),
                "url_secrets": ListOf(Str(pattern=SECRET_NAME, pattern_hint="an UPPER_CASE name"),
                                      unique=True,
                                      description="secrets whose values are apprise URLs (tokens stay "
                                      "out of the definition)"),
                "events": ListOf(Str(choices=NOTIFY_EVENTS), unique=True, min_items=1),
                "timeout": Duration(minimum=0.1, maximum=120,
                                    description="per send; a target that is down never slows a rollout "
                                    "by more than this"),
            },
            description="notification targets (apprise)",
        ),
        "requires": REQUIRES,  # trust (issue 16)
        "auto": Bool(description="bakery reconcile may change this environment without --yes "
                     "(production asks otherwise)"),  # reconcile (issue 14)
        "targets": TARGETS_SCHEMA,
    },
    required=("service", "environment", "image", "port"),
    description="A bakery rollout definition (rollouts/<env>/<service>.yaml)",
)


@dataclass(frozen=True)
class HealthSpec:
    path: str = "/healthz"
    interval: float = 1.0
    timeout: float = 2.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    start_timeout: float = 60.0


@dataclass(frozen=True)
class CanaryStep:
    weight: int
    pause: float = 0.0


@dataclass(frozen=True)
class Analysis:
    max_error_rate: float = 0.01
    max_p99_ms: float = 500.0
    min_requests: int = 20
    probes: int = 20


@dataclass(frozen=True)
class NotifySpec:
    urls: tuple[str, ...] = ()
    url_secrets: tuple[str, ...] = ()
    events: tuple[str, ...] = NOTIFY_EVENTS
    timeout: float = 5.0


@dataclass(frozen=True)
class RolloutDefinition:
    service: str
    environment: str
    image_name: str
    image_version: str | None
    port: int
    path: Path
    replicas: int = 2
    parallelism: int = 8  # members started and health-checked at once
    listen: str = "127.0.0.1:8080"
    health: HealthSpec = field(default_factory=HealthSpec)
    drain_timeout: float = 30.0
    keep_previous: float = 3600.0
    canary_steps: tuple[CanaryStep, ...] = (CanaryStep(10, 10.0), CanaryStep(50, 10.0))
    analysis: Analysis = field(default_factory=Analysis)
    secrets: tuple[str, ...] = ()
    secret_delivery: str = "file"  # or "env": environment variables, only when a definition asks
    notify: NotifySpec = field(default_factory=NotifySpec)
    requires: Requirements = field(default_factory=Requirements)  # trust (issue 16)
    targets: Targets | None = None  # None: the local engine
    auto: bool = False  # reconcile (issue 14): converge without --yes

    @property
    def listen_host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


def load_rollout(path: Path, project_root: Path | None = None) -> RolloutDefinition:
    """Load and validate one rollout; with ``project_root``, also check its image exists."""
    source = yamlsource.load(path, yamlsource.display_path(path, project_root))
    data: dict[str, Any] = ROLLOUT_SCHEMA.check(source.data, "", source)
    check_strings(data, "", source)
    env_folder = path.absolute().parent.name
    if data["environment"] != env_folder:
        raise source.error("environment", f"is {data['environment']!r} but the file lives in "
                           f"rollouts/{env_folder}/")
    if path.stem != data["service"]:
        raise source.error("service", f"must match the file name {path.stem!r}")
    port = data["listen"].rsplit(":", 1)[1] if "listen" in data else "8080"
    if not 1 <= int(port) <= 65535:
        raise source.error("listen", "port must be 1..65535")
    strategy = data.get("strategy", {})
    steps = ()
    if "canary" in strategy:
        steps = tuple(CanaryStep(s["weight"], s.get("pause", 0.0))
                      for s in strategy["canary"]["steps"])
        for index in range(1, len(steps)):
            if steps[index].weight <= steps[index - 1].weight:
                raise source.error(join(join("strategy.canary.steps", index), "weight"),
                                   "must be greater than the previous step's weight")
    if project_root is not None:
        image_name = data["image"]["name"]
        if not (project_root / "images" / image_name / "image.yaml").is_file():
            raise source.error("image.name", f"no image definition named {image_name!r} under images/")
    notify = data.get("notify", {})
    for index, url in enumerate(notify.get("urls", [])):
        if reason := secret_reason("url", url):
            raise source.error(join("notify.urls", index), f"{reason}; put the URL in a secret and name "
                               "it in notify.url_secrets")
    requires = _requires(data.get("requires", {}), source, project_root)  # trust (issue 16)
    health = HealthSpec(**data.get("health", {}))
    bg = strategy.get("blue_green", {})
    return RolloutDefinition(
        service=data["service"], environment=data["environment"],
        image_name=data["image"]["name"], image_version=data["image"].get("version"),
        port=data["port"], path=path, replicas=data.get("replicas", 2),
        parallelism=data.get("parallelism", 8),
        listen=data.get("listen", "127.0.0.1:8080"), health=health,
        drain_timeout=bg.get("drain_timeout", 30.0), keep_previous=bg.get("keep_previous", 3600.0),
        canary_steps=steps or RolloutDefinition.canary_steps,
        analysis=Analysis(**strategy.get("analysis", {})),
        secrets=tuple(data.get("secrets", [])),
        secret_delivery=data.get("secret_delivery", SECRET_DELIVERIES[0]),
        notify=NotifySpec(tuple(notify.get("urls", ())), tuple(notify.get("url_secrets", ())),
                          tuple(notify.get("events", NOTIFY_EVENTS)), notify.get("timeout", 5.0)),
        requires=requires,
        targets=load_targets(data.get("targets"), source, project_root),
        auto=data.get("auto", False),
    )


def _requires(data: dict[str, Any], source: yamlsource.Source,
              project_root: Path | None) -> Requirements:
    """trust (issue 16): a signed_by key must be one of the project's keys/<name>.pub."""
    signed_by = tuple(data.get("signed_by", ()))
    if project_root is not None:
        for index, key in enumerate(signed_by):
            if not (project_root / "keys" / f"{key}.pub").is_file():
                raise source.error(join("requires.signed_by", index),
                                   f"no public key keys/{key}.pub in the project "
                                   "(create one with `bakery keys init --name NAME`)")
    succeeded_in = tuple(data.get("succeeded_in", ()))  # promotion by evidence (issue 14)
    for index, env in enumerate(succeeded_in):
        if env == source.data.get("environment"):
            raise source.error(join("requires.succeeded_in", index),
                               "names this environment itself; promotion needs evidence from another")
        if project_root is not None and not (project_root / "rollouts" / env).is_dir():
            raise source.error(join("requires.succeeded_in", index), f"no environment {env!r} "
                               "(no folder rollouts/" + env + "/)")
    return Requirements(signed_by=signed_by, verified=data.get("verified", False),
                        policy=data.get("policy"), succeeded_in=succeeded_in)
