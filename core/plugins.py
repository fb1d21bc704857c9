"""The plugin manager: loads every plugin of the ``santokit`` entry-point group.

Built-in plugins are found exactly like third-party ones, so the entry-point path is always in
use. A plugin that fails to import is recorded (and reported by ``stk plugins``) instead of
taking the whole tool down.
"""

from __future__ import annotations

import importlib.metadata as md
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, cast

import pluggy

from . import hookspecs
from .contracts import (
    DiffRule,
    Engine,
    LintRule,
    PermissionCompiler,
    ReleaseStore,
    missing_members,
)
from .errors import PluginError, SantokitError

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
    """A loaded set of plugins with typed access to what their hooks return.

    Engines, rules and compilers are collected once, on first use (the Hub asks for all of them
    when it starts): each object is checked against its protocol there, so a broken plugin stops
    the Hub at start with one line naming it, instead of failing, or being silently skipped,
    on the request that first needs it.
    """

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
        self.pm = pm
        self._infos = infos
        self._engines: Mapping[str, Engine] | None = None
        self._rules: tuple[object, ...] | None = None
        self._compilers: tuple[PermissionCompiler, ...] | None = None

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

    def label(self, plugin: str) -> str:
        """How errors name a plugin: its entry point and the distribution that installed it."""
        for info in self._infos:
            if info.name == plugin:
                return f"{info.name} ({info.distribution} {info.version})"
        return plugin  # registered by hand, not through an entry point

    def _answers(self, hook: str, **kwargs: object) -> Iterator[tuple[str, Any]]:
        """Each plugin's answer to ``hook`` in pluggy's call order, with the plugin's name
        (None answers skipped), so a wrong answer can be traced to whoever gave it."""
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            try:
                answer = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except SantokitError:
                raise  # already one line of its own (an engine's bad setting, say)
            except Exception as exc:  # the type only: the text may hold a URL
                raise PluginError(
                    f"plugin {self.label(impl.plugin_name)} failed in {hook} "
                    f"({type(exc).__name__}); rerun with STK_DEBUG=1 and report it to its authors"
                ) from exc
            if answer is not None:
                yield impl.plugin_name, answer

    def _check(self, plugin: str, what: str, obj: object, proto: type) -> None:
        missing = missing_members(obj, proto)
        if missing or not isinstance(obj, proto):
            raise PluginError(
                f"plugin {self.label(plugin)}: {what} ({type(obj).__name__}) lacks "
                f"{', '.join(missing) or 'part'} of the {proto.__name__} contract"
            )

    def engines(self) -> Mapping[str, Engine]:
        """Every engine by name; a name two plugins provide, or an engine that misses part of
        the ``Engine`` protocol, is a ``PluginError``."""
        if self._engines is None:
            found: dict[str, tuple[str, Engine]] = {}
            for plugin, engines in self._answers("santokit_engines"):
                if not isinstance(engines, Mapping):
                    raise PluginError(
                        f"plugin {self.label(plugin)}: santokit_engines returned "
                        f"{type(engines).__name__}, not a mapping of engine name to engine"
                    )
                for name, engine in engines.items():
                    if name in found:
                        both = sorted([self.label(found[name][0]), self.label(plugin)])
                        raise PluginError(
                            f"two plugins provide the engine {name!r}: {both[0]} and "
                            f"{both[1]}; uninstall one"
                        )
                    self._check(plugin, f"engine {name!r}", engine, Engine)
                    if engine.name != name:
                        raise PluginError(
                            f"plugin {self.label(plugin)}: the engine registered as {name!r} "
                            f"calls itself {engine.name!r}"
                        )
                    found[name] = (plugin, engine)
            self._engines = MappingProxyType({n: e for n, (_, e) in sorted(found.items())})
        return self._engines

    def diff_rules(self) -> list[object]:
        """Every rule; each is a ``DiffRule``, a ``LintRule`` or both, else a ``PluginError``
        (a misspelt ``check`` must not disable a team's rule without a word)."""
        if self._rules is None:
            rules = []
            for plugin, found in self._answers("santokit_diff_rules"):
                for rule in found:
                    if not isinstance(rule, DiffRule | LintRule):
                        code = getattr(rule, "code", type(rule).__name__)
                        raise PluginError(
                            f"plugin {self.label(plugin)}: rule {code} ({type(rule).__name__}) "
                            "has neither check(change, context) (DiffRule) nor lint(schema) "
                            "(LintRule), or no code"
                        )
                    rules.append(rule)
            self._rules = tuple(rules)
        return list(self._rules)

    def permission_compilers(self) -> list[PermissionCompiler]:
        """Every compiler, sorted by name; two plugins claiming one name is a configuration
        error (one artifact would silently replace the other)."""
        if self._compilers is None:
            owners: dict[str, str] = {}
            compilers = []
            for plugin, found in self._answers("santokit_permission_compilers"):
                for compiler in found:
                    self._check(plugin, "permission compiler", compiler, PermissionCompiler)
                    if compiler.name in owners:
                        both = sorted([self.label(owners[compiler.name]), self.label(plugin)])
                        raise PluginError(
                            f"two plugins provide the permission compiler {compiler.name!r}: "
                            f"{both[0]} and {both[1]}; uninstall one"
                        )
                    owners[compiler.name] = plugin
                    compilers.append(compiler)
            self._compilers = tuple(sorted(compilers, key=lambda c: c.name))
        return list(self._compilers)

    def release_store(self, url: str) -> ReleaseStore | None:
        """The store of the first plugin that understands ``url``, checked against
        ``ReleaseStore``; None when no plugin does."""
        for plugin, store in self._answers("santokit_release_store", url=url):
            self._check(plugin, "release store", store, ReleaseStore)
            return cast(ReleaseStore, store)
        return None

    def collect(self) -> None:
        """Collect and check everything the Hub uses, at its start (PluginError on a fault)."""
        self.engines()
        self.diff_rules()
        self.permission_compilers()


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
