"""Looking for secret values wherever an image keeps text: its history as `docker history
--no-trunc` shows it, its inspect data (config, labels), and every file `docker save` writes
(the layers opened, file by file); and an app whose scripts try to give its build args away."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from collections.abc import Iterable, Iterator
from typing import Any

# Build args from the environment under names an old list of secret words missed, one of them
# a two-line PEM-like value; prepare and build print them every way a script might (quoted,
# unquoted, to stderr, through `env`).  Its lain.yaml holds no value, only $X, ${Y} and $Z.
LEAKY_APP = """\
appname: {name}
build:
  base: {base}
  prepare:
    script:
      - echo "prepare $DB_PASS $GH_PAT"; echo "$PEM"; echo $PEM >&2
    build_arg:
      - DB_PASS=$X
      - GH_PAT=${Y}
      - PEM=$Z
  script:
    - test "${#DB_PASS}" -gt 10 && test "${#GH_PAT}" -gt 10 && test "$(echo "$PEM" | wc -l)" = 2
    - echo "db $DB_PASS pat $GH_PAT"; echo "$PEM"; echo $PEM >&2; env
    - echo built > built.txt
  build_arg:
    - DB_PASS=$X
    - GH_PAT=${Y}
    - PEM=$Z
"""
# Put in place of the last line of LEAKY_APP's build script (quoted for YAML): it prints the
# values once more and fails.
FAILING_LINE = 'echo "last words: $DB_PASS"; echo "$PEM" >&2; exit 7'


def leaky_values(app_name: str) -> dict[str, str]:
    """The environment LEAKY_APP builds with: values that appear nowhere else."""
    tag = app_name.rsplit("-", 1)[-1]
    return {
        "X": f"db-pass-{tag}-7f3a",
        "Y": f"ghp_pat{tag}c0ffee",
        "Z": f"-----BEGIN LAIN TEST {tag} KEY-----\nMIIBOgIBAAJBAK{tag}qUw8pem==",
    }


def failing(lain_yaml: str) -> str:
    """LEAKY_APP's lain.yaml with FAILING_LINE as its last build line."""
    return lain_yaml.replace("echo built > built.txt", f"'{FAILING_LINE}'")


def secret_pieces(values: Iterable[str]) -> set[str]:
    """Each value, and each line of a multi-line one: none of them may show anywhere."""
    return {piece for value in values for piece in (value, *value.splitlines()) if piece}


def history(image: str) -> str:
    """What `docker history --no-trunc` shows (the CLI, exactly as a user would see it)."""
    done = subprocess.run(
        ["docker", "history", "--no-trunc", "--format", "{{.CreatedBy}} {{.Comment}}", image],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def saved_files(client: Any, image: str) -> Iterator[tuple[str, bytes]]:
    """``(name, content)`` of every file in `docker save` of ``image``: its configs and manifest,
    and each file of each layer (``layer/path``)."""
    saved = io.BytesIO(b"".join(client.api.get_image(image)))
    with tarfile.open(fileobj=saved) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            data = archive.extractfile(member).read()
            yield member.name, data
            if member.name.endswith(".tar") or "/blobs/" in member.name:
                yield from _layer_files(member.name, data)


def _layer_files(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    if not _is_tar(data):
        return  # a blob that is not a layer (a config, a manifest): already read whole
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as layer:  # compressed or not
        for member in layer.getmembers():
            content = layer.extractfile(member).read() if member.isfile() else b""
            yield f"{name}/{member.name}", member.name.encode() + b"\n" + content


def _is_tar(data: bytes) -> bool:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*"):
            return True
    except tarfile.TarError:
        return False


def app_images(client: Any, app: str) -> set[str]:
    """The ids of every image of ``app`` on the engine, and of every image under them."""
    found = {i["Id"] for i in client.api.images(filters={"label": f"lain.app={app}"}, all=True)}
    found |= {i["Id"] for i in client.api.images(name=app)}
    parents = {
        entry["Id"]
        for image in found
        for entry in client.api.history(image)
        if entry["Id"].startswith("sha256:")
    }
    return found | parents


def leaks(client: Any, images: Iterable[str], values: Iterable[str]) -> list[tuple[str, str, str]]:
    """``(image, where, piece)`` for each piece of ``values`` found in one of ``images``."""
    pieces = secret_pieces(values)
    found = []
    for image in sorted(images):
        places = {
            "history": history(image),
            "inspect": json.dumps(client.api.inspect_image(image)),
            "api history": json.dumps(client.api.history(image)),
        }
        for where, text in places.items():
            found += [(image, where, p) for p in pieces if p in text]
        for name, data in saved_files(client, image):
            found += [(image, f"docker save: {name}", p) for p in pieces if p.encode() in data]
    return found
