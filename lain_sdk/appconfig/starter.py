"""The commented starter lain.yaml that ``lain init`` writes."""

from __future__ import annotations

import re

from lain_sdk.appconfig.checks import RESERVED_APPNAMES
from lain_sdk.appconfig.validation import NAME_RE
from lain_sdk.errors import AppConfigError, Problem

APPNAME_RULE = (
    "use letters and digits, with single dashes between words, starting with a letter "
    "(and not service, resource or portal)"
)

# Editors' copy of the schema: in a folder whose .gitignore keeps it out of commits and so out
# of the build context (which is what git would commit): never in the app's images.
EDITOR_DIR = ".lain"
SCHEMA_FILE_NAME = f"{EDITOR_DIR}/lain.schema.json"
EDITOR_GITIGNORE = """\
# lain's files for editors (`lain schema > .lain/lain.schema.json`): kept out of commits and builds
*
!.gitignore
"""

_TEMPLATE = """\
# yaml-language-server: $schema={schema}
# How lain builds and runs {appname}. Check it with `lain validate`. Editors check it against
# {schema}, which `lain schema > {schema}` writes (git-ignored: never in an image).
appname: {appname}

build:
  # The image the build runs in; the source is copied to /lain/app first.
  base: busybox:latest
  # Each line runs in /lain/app; the build stops at the first line that fails.
  script:
    - echo "build {appname} here"
  # Slow dependency steps, cached in their own image until they change:
  # prepare:
  #   script:
  #     - pip install -r requirements.txt
  #   keep:
  #     - node_modules

# The runtime image: dest_base plus files copied from the build image.
# Without a release section the build image itself is released.
# release:
#   dest_base: busybox:latest
#   copy:
#     - src: /lain/app/bin
#       dest: /lain/app/bin

# Runs on the build image with `lain test`.
# test:
#   script:
#     - ./run-tests

# The proc named web gets {appname}'s domains and port 80 by default.
web:
  cmd: httpd -f -p 80 -h /lain/app
  port: 80
  memory: 64m
  num_instances: 1
  # healthcheck: /health      # an HTTP path that answers 2xx when the proc is healthy
  # env:
  #   - GREETING=hello
  # secret_files:
  #   - config/secrets.yaml   # content injected at deploy time

# More procs: worker.NAME, oneshot.NAME, web.NAME (with its own mountpoint), service.NAME.
# worker.queue:
#   cmd: ./worker --queue default
#   memory: 128m
"""


def default_appname(directory_name: str) -> str:
    """An appname made from a directory name: lower case, words joined by single dashes."""
    words = re.findall(r"[a-z0-9]+", directory_name.lower())
    name = "-".join(words).lstrip("-0123456789")
    name = re.sub(r"-+", "-", name).strip("-")
    if not name:
        return "app"
    if name in RESERVED_APPNAMES:
        return f"{name}-app"
    return name


def valid_appname(name: str) -> bool:
    """True when ``name`` can be an appname."""
    return bool(NAME_RE.match(name)) and name not in RESERVED_APPNAMES


def starter_config(appname: str, *, schema_path: str = SCHEMA_FILE_NAME) -> str:
    """A commented lain.yaml for a new app, valid as it is.

    Args:
        appname: the app's name.
        schema_path: where editors find the schema, relative to the lain.yaml.

    Raises:
        AppConfigError: ``appname`` is not a valid appname.
    """
    if not valid_appname(appname):
        problem = Problem(0, 0, "appname", f"invalid appname {appname!r}: {APPNAME_RULE}")
        raise AppConfigError([problem])
    return _TEMPLATE.format(appname=appname, schema=schema_path)
