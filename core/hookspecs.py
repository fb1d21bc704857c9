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
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .contracts import Engine, PermissionCompiler, ReleaseStore

hookspec = pluggy.HookspecMarker("santokit")


@hookspec
def santokit_engines() -> Mapping[str, Engine]:
    """Return the database engines this plugin provides, keyed by engine name (``postgres``).

    Called once when the Hub starts (``SantokitPlugins.engines``). An engine implements
    ``santokit.core.contracts.Engine``: it checks and tests a connection URL, introspects the
    declared tables of a database into the IR, plans, applies a plan atomically together with its
    ``AppliedRecord`` (kept in the database's ``stk_applied`` table), reads that record back, and
    reports drift and compatibility; it names its URL schemes, default namespace and display
    name. A name provided by two plugins, or an engine missing part of the protocol, stops the
    Hub at start with a ``PluginError`` naming the plugin(s).
    """


@hookspec
def santokit_diff_rules() -> Sequence[object]:
    """Return rules that judge a schema and the changes planned for it.

    Called once, when the Hub starts or ``stk validate`` runs. A rule has a stable ``code`` (e.g.
    ``DS102``) and implements ``lint(schema)`` to reject a declared schema outright
    (``santokit.core.contracts.LintRule``), ``check(change, context)`` to mark a planned change
    destructive or unsupported with a reason and a remedy (``DiffRule``), or both; a rule with
    neither is a ``PluginError`` naming the plugin.
    """


@hookspec
def santokit_permission_compilers() -> Sequence[PermissionCompiler]:
    """Return permission compilers; each turns ``config/permissions.yaml`` into an artifact.

    Called once, when the Hub starts; each compiler runs when a release is built. The
    built-in compiler produces the compiled policy; others add artifacts (for example
    row-level-security SQL) stored in the release under their name; two plugins providing one
    name is a ``PluginError``.
    """


@hookspec(firstresult=True)
def santokit_release_store(url: str) -> ReleaseStore | None:
    """Return the Hub store for ``url`` if this plugin knows its scheme, else None.

    Called once at Hub start with the ``--store`` URL; the first plugin that answers wins, and
    its store must implement ``santokit.core.contracts.ReleaseStore`` (else a ``PluginError``).
    """
