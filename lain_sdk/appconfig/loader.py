"""Reading a lain.yaml: YAML with positions, the schema, the semantic checks, then the model."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lain_sdk.arguments as arguments
from lain_sdk.appconfig.builder import build_app_config
from lain_sdk.appconfig.checks import filter_warnings, secret_warnings, semantic_problems
from lain_sdk.appconfig.model import AppConfig
from lain_sdk.appconfig.render import drop_paths, render_data
from lain_sdk.appconfig.validation import Found, structural_problems
from lain_sdk.appconfig.yamlpos import Document, load_yaml
from lain_sdk.errors import AppConfigError, AppConfigMissing, Problem

FILE_NAME = "lain.yaml"


def _find(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The lain.yaml ``path`` means, and how to name it in messages."""
    given = Path(path)
    if given.is_dir() or (not given.exists() and given.suffix not in (".yaml", ".yml")):
        given = given / FILE_NAME
    return given, os.path.normpath(str(given))


def _read(target: Path, shown: str) -> tuple[str | None, list[Problem]]:
    """The text of lain.yaml, or the problem that stops it from being read.

    Raises:
        AppConfigMissing: there is no such file.
    """
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        raise AppConfigMissing(shown) from None
    except IsADirectoryError:
        return None, [Problem(0, 0, "", "is a directory, not a lain.yaml", shown)]
    except OSError as e:
        return None, [Problem(0, 0, "", f"cannot read it: {e.strerror or e}", shown)]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        message = f"not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8"
        return None, [Problem(line, column, "", message, shown)]


def _place(doc: Document, found: list[Found]) -> list[Problem]:
    return [doc.problem(f.path, f.message, at=f.at) for f in found]


def _validate(doc: Document, data: Any, *, templates: bool, text: str | None = None) -> list[Found]:
    structural = structural_problems(data, templates=templates, text=text)
    bad = {f.bad_path for f in structural}
    if not isinstance(data, dict):
        return structural
    semantic = semantic_problems(
        data, bad, lambda p: doc.position(p, at="key"), templates=templates
    )
    return structural + semantic


def _analyse(
    text: str, path: str, domains: Sequence[str] | None
) -> tuple[AppConfig | None, list[Problem]]:
    doc = load_yaml(text, path)
    if doc.data is None:
        return None, sorted(set(doc.problems))
    templates = doc.data.get("apptype") == "resource"
    found = _validate(doc, doc.data, templates=templates, text=text)
    problems = doc.problems + _place(doc, found)
    if problems:
        return None, sorted(set(problems))
    data = doc.data
    if templates:
        data, found = _preview(doc)
        if found:
            return None, sorted(set(_place(doc, found)))
    config = build_app_config(data, source=text, path=path, domains=domains)
    # On the file as written: a resource template's parameters are not secrets written out.
    found = secret_warnings(doc.data) + filter_warnings(doc.data)
    warnings = tuple(sorted(_place(doc, found)))
    return dataclasses.replace(config, warnings=warnings), []


def _preview(doc: Document) -> tuple[Any, list[Found]]:
    """A resource template's model: rendered without parameters, as the template's defaults.

    A template that needs a parameter (``memory: "{{ memory }}"``) renders to something
    invalid without one; such values are dropped, so the built-in default shows instead.
    """
    data, failed, templated, _ = render_data(doc.data, {})
    if failed:
        return data, failed
    for _ in range(5):
        found = _validate(doc, data, templates=False)
        dropped = {t for f in found for t in templated if f.bad_path[: len(t)] == t}
        if not found or not dropped:
            break
        data = drop_paths(data, dropped)
    rest = [Found(f.path, f"{f.message} (when rendered without parameters)", f.at) for f in found]
    return data, rest


def parse_app_config(
    text: str, *, path: str = FILE_NAME, domains: Sequence[str] | None = None
) -> AppConfig:
    """Validate lain.yaml text and build its model.

    Args:
        text: the YAML text.
        path: the file name to use in problems and in ``AppConfig.path``.
        domains: the cluster's domains for web mountpoints (default ``("lain.local",)``).

    Returns:
        The app's configuration, with v2's defaults filled in.

    Raises:
        AppConfigError: the text is not a valid lain.yaml; ``problems`` lists every problem,
            sorted by position.
        InvalidArgument: an argument of the wrong kind.
    """
    text = arguments.string(text, "text")
    path = arguments.string(path, "path")
    config, problems = _analyse(text, path, arguments.optional_texts(domains, "domains"))
    if config is None:
        raise AppConfigError(problems, path)
    return config


def load_app_config(
    path: str | os.PathLike[str] = ".", *, domains: Sequence[str] | None = None
) -> AppConfig:
    """Read, validate and model a lain.yaml.

    Args:
        path: a lain.yaml file, or a directory holding one (default: the current directory).
        domains: the cluster's domains for web mountpoints (default ``("lain.local",)``).

    Returns:
        The app's configuration.

    Raises:
        AppConfigMissing: there is no such file.
        AppConfigError: the file is unreadable or invalid; ``problems`` lists every problem,
            sorted by position.
        InvalidArgument: an argument of the wrong kind.
    """
    target, shown = _find(arguments.path(path, "path"))
    domains = arguments.optional_texts(domains, "domains")
    text, problems = _read(target, shown)
    if text is None:
        raise AppConfigError(problems, shown)
    return parse_app_config(text, path=shown, domains=domains)


def check_app_config(path: str | os.PathLike[str] = ".") -> list[Problem]:
    """Every problem of a lain.yaml, without raising.

    Args:
        path: a lain.yaml file, or a directory holding one.

    Returns:
        The problems sorted by position; an empty list when the file is valid.

    Raises:
        InvalidArgument: ``path`` is not a path.
    """
    target, shown = _find(arguments.path(path, "path"))
    try:
        text, problems = _read(target, shown)
    except AppConfigMissing as missing:
        return list(missing.problems)
    if text is None:
        return problems
    return _analyse(text, shown, None)[1]


def render_resource_instance(
    resource_text: str,
    *,
    resource: str,
    client: str,
    context: Mapping[str, object],
    domains: Sequence[str] | None = None,
) -> AppConfig:
    """Instantiate a resource for a client app, as lain v2 did.

    Every template value of the resource's lain.yaml is rendered with Jinja2 and ``context``
    (undefined names render empty; filters such as ``default`` work), results that read as
    integers become integers, the app is named ``resource.<resource>.<client>`` and is no
    longer a resource; the result is then validated like any app.

    Args:
        resource_text: the resource's lain.yaml (a template).
        resource: the resource's appname.
        client: the appname of the app that uses it.
        context: the client's parameters (its ``use_resources.<resource>`` minus ``services``).
        domains: the cluster's domains for web mountpoints.

    Returns:
        The configuration of the instance app ``resource.<resource>.<client>``.

    Raises:
        AppConfigError: the template or its rendering is invalid; problems are reported
            against ``resource.<resource>.<client>`` at the template's lines.
        InvalidArgument: an argument of the wrong kind.
    """
    import yaml

    resource_text = arguments.string(resource_text, "resource_text")
    resource = arguments.app_name(resource, "resource")
    client = arguments.app_name(client, "client")
    context = arguments.mapping(context, "context")
    domains = arguments.optional_texts(domains, "domains")
    instance = f"resource.{resource}.{client}"
    doc = load_yaml(resource_text, instance)
    if doc.data is None:
        raise AppConfigError(doc.problems, instance)
    problems = list(doc.problems)
    if doc.data.get("apptype") != "resource":
        problems.append(
            doc.problem(
                ("apptype",) if "apptype" in doc.data else (),
                f"{resource} is not a resource: its lain.yaml needs apptype: resource",
                at="key",
            )
        )
    data, failed, _, skipped = render_data(doc.data, context)
    data.pop("apptype", None)  # the instance is an ordinary app
    # A template that failed stays as written; it is reported once, as a failed template (and
    # those left once the time or the output was used up, not at all: the one that used it up
    # says why).
    unrendered = {f.path for f in failed} | skipped
    found = [f for f in _validate(doc, data, templates=False) if f.bad_path not in unrendered]
    problems += _place(doc, failed + found)
    if problems:
        raise AppConfigError(problems, instance)
    source = yaml.safe_dump({**data, "appname": instance}, sort_keys=False, allow_unicode=True)
    return build_app_config(data, source=source, path=instance, domains=domains, appname=instance)


def parse_instance_config(
    text: str, *, instance: str, domains: Sequence[str] | None = None
) -> AppConfig:
    """The lain.yaml of a resource instance as its releases record it: already rendered, and
    named after the instance (``resource.<res>.<client>``, which no lain.yaml may be called).

    Raises:
        AppConfigError: the text is not a valid rendered instance.
        InvalidArgument: an argument of the wrong kind.
    """
    text = arguments.string(text, "text")
    parts = arguments.app_name(instance, "instance").split(".")
    if len(parts) != 3:
        raise AppConfigError(
            [Problem(0, 0, "", f"{instance} is not a resource instance name", instance)], instance
        )
    domains = arguments.optional_texts(domains, "domains")
    doc = load_yaml(text, instance)
    if doc.data is None:
        raise AppConfigError(doc.problems, instance)
    # Checked under the resource's own name, which the schema accepts.
    data = {**doc.data, "appname": parts[1]}
    problems = list(doc.problems) + _place(doc, _validate(doc, data, templates=False))
    if problems:
        raise AppConfigError(problems, instance)
    return build_app_config(data, source=text, path=instance, domains=domains, appname=instance)
