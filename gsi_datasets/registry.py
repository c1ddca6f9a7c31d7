"""A name -> item registry whose items register themselves when their package's modules are imported.

The operation registries (definitions, generators, scorers) are three of these: each operation module registers
its item on import, and the registry imports every module of its package the first time it is asked for an
item, so adding an operation never touches a list.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Items by name, discovered from a package's modules.

    Args:
        kind: what the items are, for error messages ("generator", "scorer").
        package: the package whose modules register items (imported on first look-up), or None.
        missing: the KeyError message for an unknown name; ``{name}`` and ``{known}`` are filled in, and a "Did you
            mean" follows when a registered name is close.
    """

    def __init__(self, kind: str, package: str | None, missing: str) -> None:
        self.kind = kind
        self._package = package
        self._missing = missing
        self._items: dict[str, T] = {}
        self._discovered = package is None

    def register(self, name: str, item: T) -> T:
        """Adds ``item`` under ``name`` (ValueError when the name is taken)."""
        if name in self._items:
            raise ValueError(f"a {self.kind} for {name!r} is registered twice")
        self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        """Removes ``name`` (tests register toy items and remove them again)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The item registered under ``name``.

        Raises:
            KeyError: unknown name (with close matches).
        """
        self._discover()
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            known = ", ".join(sorted(self._items))
            raise KeyError(self._missing.format(name=name, known=known) + hint)
        return self._items[name]

    def names(self) -> list[str]:
        """Every registered name (after discovery)."""
        self._discover()
        return list(self._items)

    def values(self) -> list[T]:
        """Every item (after discovery)."""
        self._discover()
        return list(self._items.values())

    def items(self) -> list[tuple[str, T]]:
        """Every ``(name, item)`` (after discovery)."""
        self._discover()
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _discover(self) -> None:
        if not self._discovered:
            self._discovered = True
            module = importlib.import_module(self._package)
            for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{self._package}.{info.name}")


def options_of(cls: type, what: str, options: Mapping[str, Any]) -> Any:
    """The options dataclass ``cls`` of ``what`` (an editor, a judge) built from ``options``, refusing an unknown key
    with close matches and the known ones.

    Raises:
        ValueError: an unknown option.
    """
    known = [f.name for f in dataclasses.fields(cls)]
    for key in options:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            raise ValueError(f"{what} has no option {key!r}.{hint} Its options: {', '.join(known)}")
    return cls(**options)
