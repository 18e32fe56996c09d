"""What the engine cannot take, refused at lint with the limit named. Pure.

Both limits were measured against the engine (Docker 20.10, API 1.41) with
``bench/probe_engine_limits.py``; the numbers are in bench/RESULTS.md and docs/build.md.

- **A Dockerfile line holds at most 65,535 characters.** The builder reads the Dockerfile
  with Go's bufio.Scanner (64 KiB token limit); one more character and the build request
  fails with HTTP 400 "bufio.Scanner: token too long". bakery renders all packages as one
  RUN line, all env as one ENV line, each run step, COPY and argv as one line each.
- **A build request carries at most 1 MiB of request line and headers** (Go's
  http.DefaultMaxHeaderBytes; above it: HTTP 431). The image's labels end the Dockerfile as
  LABEL lines; one too long for a line (a long description, a long label, the normalised
  definition of a large definition: ``io.bakery.definition``) travels in the request URL as
  percent-encoded JSON instead. The estimate below counts every label there, an upper bound.

The estimates below are upper bounds of what bakery/build/dockerfile.py renders (a unit test
renders definitions and checks every real line against them), so lint may refuse a definition
a few hundred characters before the engine would, never after.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from bakery.definitions.yamlsource import Source

if TYPE_CHECKING:  # image.py calls check(); a runtime import would be a cycle
    from bakery.definitions.image import ImageDefinition

DOCKERFILE_LINE_MAX = 65_535
BUILD_REQUEST_MAX = 1024 * 1024
#: The request line without labels, the headers, and bakery's own short labels (name, version,
#: fingerprint, created, source path, git revision, recipe, builder).
REQUEST_RESERVE = 8 * 1024
#: Fixed text around the packages on their RUN line (apt flags, a patch's refresh stamp).
PACKAGE_LINE_FIXED = 512
#: The manifest query the last RUN line also carries (dockerfile.MANIFEST_QUERY, JSON-escaped).
MANIFEST_QUERY_RESERVE = 256


def _json_len(value: object) -> int:
    return len(json.dumps(value))


def dockerfile_lines(defn: ImageDefinition) -> list[tuple[str, int]]:
    """(key path, an upper bound of the length of the Dockerfile line it becomes)."""
    lines: list[tuple[str, int]] = []
    if defn.packages:
        lines.append(("packages", PACKAGE_LINE_FIXED + MANIFEST_QUERY_RESERVE
                      + sum(len(p) + 3 for p in defn.packages)))
    fixups = 0
    for index, spec in enumerate(defn.files):
        lines.append((f"files[{index}]", 8 + _json_len([spec.src, spec.dest])))
        fixups += sum(len(part) + len(spec.dest) + 16 for part in (spec.mode, spec.owner) if part)
    if fixups:
        lines.append(("files", 4 + MANIFEST_QUERY_RESERVE + fixups))
    env = {"BAKERY_IMAGE_NAME": defn.name, "BAKERY_IMAGE_VERSION": defn.version, **defn.env}
    lines.append(("env", 4 + sum(len(k) + 4 + len(v) + sum(v.count(c) for c in '\\"$')
                                 for k, v in env.items())))
    for index, step in enumerate(defn.run):
        lines.append((f"run[{index}]", 4 + MANIFEST_QUERY_RESERVE
                      + _json_len(["/bin/bash", "-euo", "pipefail", "-c", step])))
    for key in ("cmd", "entrypoint"):
        if (argv := getattr(defn, key)) is not None:
            lines.append((key, 12 + _json_len(list(argv))))
    if defn.healthcheck is not None:
        hc = defn.healthcheck
        body = _json_len(list(hc.command)) if hc.command else 300 + 2 * len(hc.http_path or "")
        lines.append(("healthcheck", 160 + body))
    return lines


def _encoded(value: object) -> int:
    """Characters ``value`` takes in the request URL: JSON (ASCII-escaped, as docker-py sends
    it), percent-encoded."""
    return len(quote_plus(json.dumps(value)))


def request_parts(defn: ImageDefinition) -> dict[str, int]:
    """Key -> percent-encoded characters it adds to the build request's labels."""
    # The normalised definition is one label: JSON inside JSON, its quotes escaped again.
    parts = {key: _encoded(json.dumps({key: value}, sort_keys=True, separators=(",", ":")))
             for key, value in defn.normalised().items()}
    # The definition's labels are also labels of their own, and the description one more.
    parts["labels"] += _encoded(defn.labels)
    parts["description"] = _encoded(defn.description)
    return parts


def check(defn: ImageDefinition, source: Source) -> None:
    """Raise a DefinitionError naming the key and the engine's limit it would exceed."""
    for key, length in dockerfile_lines(defn):
        if length > DOCKERFILE_LINE_MAX:
            raise source.error(key, f"would make a Dockerfile line of about {length:,} characters; "
                               f"the engine refuses lines over {DOCKERFILE_LINE_MAX:,} "
                               "(its Dockerfile parser's limit)")
    parts = request_parts(defn)
    total = sum(parts.values()) + REQUEST_RESERVE
    if total > BUILD_REQUEST_MAX:
        key = max(parts, key=parts.__getitem__)
        raise source.error(key, f"makes the image's labels about {total:,} bytes in the engine's "
                           f"build request; the engine refuses requests over {BUILD_REQUEST_MAX:,} "
                           "bytes of headers (HTTP 431), and the description, labels and the "
                           "definition itself travel there as labels")
