"""Santokit core: the engine-neutral domain (schema language, IR, validation, plugin contract).

Nothing here imports a web framework, a database driver or an HTTP client.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("santokit")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0.0.0"
