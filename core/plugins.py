"""The plugin manager: loads every plugin of the ``santokit`` entry-point group.

Built-in plugins are found exactly like third-party ones, so the entry-point path is always in
use. A plugin that fails to import is recorded (and reported by ``stk plugins``) instead of
taking the whole tool down.
"""

from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass
from functools import cache
from typing import Any

import pluggy

from . import hookspecs
from .errors import SantokitError

PROJECT = "santokit"
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    error: str | None = None


class SantokitPlugins:
    """A loaded set of plugins with typed access to what their hooks return."""

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
        self.pm = pm
        self._infos = infos

    def describe(self) -> list[PluginInfo]:
        """What is loaded (and what failed to load), sorted by name."""
        out = []
        for info in self._infos:
            plugin = self.pm.get_plugin(info.name)
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            out.append(
                PluginInfo(
                    info.name,
                    info.module,
                    info.distribution,
                    info.version,
                    hooks if plugin is not None else (),
                    info.error,
                )
            )
        return sorted(out, key=lambda i: i.name)

    def diff_rules(self) -> list[Any]:
        return [rule for rules in self.pm.hook.santokit_diff_rules() for rule in rules]

    def permission_compilers(self) -> list[Any]:
        """Every compiler, sorted by name; two plugins claiming one name is a configuration
        error (one artifact would silently replace the other)."""
        compilers = [c for found in self.pm.hook.santokit_permission_compilers() for c in found]
        names = [c.name for c in compilers]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise SantokitError(
                f"two plugins provide the permission compiler {doubled[0]!r}; uninstall one"
            )
        return sorted(compilers, key=lambda c: c.name)


def load_plugins(group: str = PROJECT) -> SantokitPlugins:
    """Create a plugin manager with every entry point of ``group`` registered."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    for ep in sorted(md.entry_points(group=group), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else "?"
        ver = ep.dist.version if ep.dist else "?"
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken third-party plugin must not break the tool
            infos.append(
                PluginInfo(ep.name, ep.value, dist, ver, (), f"{type(exc).__name__}: {exc}")
            )
            continue
        infos.append(PluginInfo(ep.name, ep.value, dist, ver, ()))
    return SantokitPlugins(pm, infos)


@cache
def default_plugins() -> SantokitPlugins:
    """The process-wide plugin set (entry points are read once)."""
    return load_plugins()
