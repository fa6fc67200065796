"""lain.yaml: loading, validation and the app model.

::

    from lain_sdk.appconfig import load_app_config

    app = load_app_config("path/to/app")      # or a lain.yaml file
    print(app.appname, [p.name for p in app.procs])

Every problem of an invalid file is raised at once in one ``AppConfigError``.  The functions
are imported on first use (PEP 562), so importing the model alone stays cheap: yaml and
jsonschema load when a file is first read, jinja2 only when a resource template is rendered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lain_sdk._lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from lain_sdk.appconfig.appname import read_appname as read_appname
    from lain_sdk.appconfig.loader import check_app_config as check_app_config
    from lain_sdk.appconfig.loader import load_app_config as load_app_config
    from lain_sdk.appconfig.loader import parse_app_config as parse_app_config
    from lain_sdk.appconfig.loader import render_resource_instance as render_resource_instance
    from lain_sdk.appconfig.starter import starter_config as starter_config
    from lain_sdk.appconfig.validation import schema as schema

_EXPORTS = {
    "check_app_config": "lain_sdk.appconfig.loader",
    "load_app_config": "lain_sdk.appconfig.loader",
    "parse_app_config": "lain_sdk.appconfig.loader",
    "read_appname": "lain_sdk.appconfig.appname",
    "render_resource_instance": "lain_sdk.appconfig.loader",
    "schema": "lain_sdk.appconfig.validation",
    "starter_config": "lain_sdk.appconfig.starter",
}

__all__ = sorted(_EXPORTS)  # computed, like lain_sdk.__all__


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, extra_dir=("model",))
