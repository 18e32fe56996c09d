"""Rules for the text inside definitions that no schema type expresses. Pure.

- Invisible and direction-changing characters (Unicode category Cf: U+202E RIGHT-TO-LEFT
  OVERRIDE, the isolates, zero-width spaces and joiners, U+FEFF) make what a reviewer sees
  differ from what is stored ("Trojan Source", CVE-2021-42574). They are refused in every
  string of a definition: in a label or description they mislead whoever inspects the image,
  in a run step they hide what runs.
- Paths that reach the Dockerfile (``workdir``, ``files[].dest`` and ``.src``) are refused, not escaped,
  when they hold anything but plain path characters: the engine expands ``$VAR`` and
  ``${VAR}`` in WORKDIR and COPY (JSON form too), each builder (docker, packer) quotes
  differently, and no real image path needs ``$``, quotes, spaces or shell syntax, so a
  refusal is the one rule that is right for every builder. (``env`` values, which do need
  arbitrary text, are escaped by the renderer instead.)
- A path under /proc, /sys or /dev is refused: the runtime mounts procfs, sysfs and a tmpfs
  over them when the container starts, so a file put there is silently invisible.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from typing import Any

from bakery.definitions.yamlsource import Source, join

IMAGE_PATH = re.compile(r"/[A-Za-z0-9._+@%=,:~/-]*")
IMAGE_PATH_HINT = ("an absolute path of letters, digits and ._+@%=,:~/- (no $, quotes, spaces or "
                   "shell syntax: the engine would expand them)")
RUNTIME_MOUNTS = ("/proc", "/sys", "/dev")
# COPY's source is expanded too ($VAR) and is a glob (*, ?, [...]): the file fingerprinted
# would not be the file copied.
CONTEXT_PATH = re.compile(r"[A-Za-z0-9._+@%=,:~/-]+")
CONTEXT_PATH_HINT = ("a relative path of letters, digits and ._+@%=,:~/- (no $, wildcards, quotes or "
                     "spaces: the engine would expand them and copy other files than the ones "
                     "fingerprinted)")


def invisible_char(value: str) -> str | None:
    """The first invisible or direction-changing character in ``value``, as U+XXXX (NAME)."""
    for char in value:
        if unicodedata.category(char) == "Cf":
            return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"
    return None


def check_strings(data: Any, key_path: str, source: Source) -> None:
    """Refuse any string (value or key) in ``data`` that holds an invisible character."""
    if isinstance(data, str):
        if found := invisible_char(data):
            raise source.error(key_path, f"holds {found}, an invisible or direction-changing "
                               "character: what a reader sees is not what is stored")
    elif isinstance(data, dict):
        for key, value in data.items():
            check_strings(str(key), join(key_path, str(key)), source)
            check_strings(value, join(key_path, str(key)), source)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_strings(value, join(key_path, index), source)


def check_context_path(value: str, key_path: str, source: Source) -> str:
    """A file of the image folder that COPY reads literally."""
    if not CONTEXT_PATH.fullmatch(value):
        raise source.error(key_path, f"should be {CONTEXT_PATH_HINT}")
    return value


def check_image_path(value: str, key_path: str, source: Source) -> str:
    """An absolute path inside the image that reaches the Dockerfile literally."""
    if not IMAGE_PATH.fullmatch(value):
        raise source.error(key_path, f"should be {IMAGE_PATH_HINT}")
    normal = posixpath.normpath(value)
    for mount in RUNTIME_MOUNTS:
        if normal == mount or normal.startswith(mount + "/"):
            raise source.error(key_path, f"is under {mount}, which the container runtime mounts "
                               "over at run time: the file would be invisible")
    return value
