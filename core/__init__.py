"""Santokit core: the engine-neutral domain (schema language, IR, validation, plugin contract).

Nothing here imports a web framework, a database driver or an HTTP client.
"""

# The one place the version is written: pyproject.toml reads it (dynamic version), and a literal
# costs nothing at start-up, where importlib.metadata cost `stk --version` 30 ms.
__version__ = "0.1.0"
