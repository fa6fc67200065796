"""The ``lain`` command line: thin commands over lain_sdk."""

from lain_sdk._version import __version__

__all__ = ["__version__"]
