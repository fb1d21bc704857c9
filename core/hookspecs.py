"""The plugin contract: one hook per extension point (pluggy project name ``santokit``).

Built-in plugins (``santokit.plugins.*``) and third-party packages implement these hooks the same
way: a module or object with functions marked ``@santokit.core.plugins.hookimpl``, registered under
the ``santokit`` entry-point group::

    [project.entry-points.santokit]
    my_rules = "my_package.santokit_plugin"

Every hook below is called by the Hub (and by ``stk validate`` for lint rules); each docstring says
when and what it must return. Hooks returning collections are gathered from every plugin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("santokit")


@hookspec
def santokit_engines() -> Mapping[str, Any]:
    """Return the database engines this plugin provides, keyed by engine name (``postgres``).

    Called once when the Hub starts. An engine implements ``santokit.core.contracts.Engine``:
    it tests a connection URL, introspects the declared tables of a database into the IR, renders
    a change as SQL, applies a plan atomically together with its ``AppliedRecord`` (kept in the
    database's ``stk_applied`` table), and reads that record back. A name provided by two plugins
    is a configuration error.
    """


@hookspec
def santokit_diff_rules() -> Sequence[Any]:
    """Return rules that judge a schema and the changes planned for it.

    Called whenever a plan is made, and by ``stk validate``. A rule has a stable ``code`` (e.g.
    ``DS102``) and may implement ``lint(schema) -> Iterable[LintIssue]`` to reject a declared schema
    outright (see ``santokit.core.contracts.LintRule``), and a change classifier that marks a
    planned change destructive or unsupported with a reason and a remedy.
    """


@hookspec
def santokit_permission_compilers() -> Sequence[Any]:
    """Return permission compilers; each turns ``config/permissions.yaml`` into an artifact.

    Called when a release is built. The built-in compiler produces the compiled policy; others add
    artifacts (for example row-level-security SQL) stored in the release under their name.
    """


@hookspec(firstresult=True)
def santokit_release_store(url: str) -> Any | None:
    """Return the Hub store for ``url`` if this plugin knows its scheme, else None.

    Called once at Hub start with the ``--store`` URL; the first plugin that answers wins.
    """
