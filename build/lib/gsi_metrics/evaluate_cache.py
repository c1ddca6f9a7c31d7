"""Makes ``evaluate.load("gsi_spatial_accuracy")`` (any module's bare name) work offline after ``pip install``.

``evaluate`` resolves a bare name to ``evaluate-metric/<name>`` on the Hub and, when that fails (offline, or
not on the Hub), to the newest copy in its own module cache,
``$HF_MODULES_CACHE/evaluate_modules/metrics/evaluate-metric--<name>/<64-hex hash>/<name>.py``. This module
writes the installed modules there, in exactly that layout (the one ``evaluate`` writes itself when it
downloads a module), keyed by the SHA-256 of each module file, so an upgrade adds a newer copy and
``evaluate`` picks it.

The wheel installs a one-line ``gsi_bench_evaluate_modules.pth`` that calls :func:`register_quietly` when
Python starts: it imports only the standard library, costs a few ``stat`` calls once the cache is current,
and never raises. :func:`register` is the same, explicit and raising (``python -m gsi_metrics.evaluate_cache``).
``gsi_metrics.load(name)`` loads a module from its installed folder without the cache.

Only the standard library may be imported here: this runs at every interpreter start.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

#: The evaluate modules this package ships (folder and file names).
MODULE_NAMES = (
    "gsi_bench",
    "gsi_instruction_compliance",
    "gsi_spatial_accuracy",
    "gsi_edit_locality",
    "gsi_appearance_consistency",
)
#: Files of a module folder copied next to the module (the metric card, for ``evaluate``'s module info).
_EXTRA_FILES = ("README.md",)


def module_file(name: str) -> Path:
    """The installed ``<name>/<name>.py`` of one of :data:`MODULE_NAMES`.

    Raises:
        KeyError: ``name`` is not a GSI-Bench module.
    """
    if name not in MODULE_NAMES:
        raise KeyError(f"unknown GSI-Bench evaluate module {name!r}; the modules are {', '.join(MODULE_NAMES)}")
    return Path(__file__).resolve().parent / name / f"{name}.py"


def modules_cache() -> Path:
    """``evaluate``'s module cache, resolved from the environment as ``evaluate.config`` resolves it."""
    cache_home = os.path.expanduser(
        os.getenv("HF_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "huggingface"))
    )
    return Path(os.getenv("HF_MODULES_CACHE", os.path.join(cache_home, "modules")))


def _touch(path: Path) -> None:
    if not path.exists():
        path.write_text("")


def register(names: tuple[str, ...] = MODULE_NAMES, cache: Path | None = None) -> list[Path]:
    """Writes each module into ``evaluate``'s cache under its bare name (see the module docstring).

    Returns:
        The cached module files (already current ones included).

    Raises:
        OSError: the cache cannot be written.
    """
    root = (cache or modules_cache()) / "evaluate_modules"
    written = []
    for name in names:
        source = module_file(name)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        folder = root / "metrics" / f"evaluate-metric--{name}"
        target = folder / digest / f"{name}.py"
        written.append(target)
        if target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        for package in (root.parent, root, root / "metrics", folder, target.parent):
            _touch(package / "__init__.py")
        for extra in _EXTRA_FILES:
            if (source.parent / extra).is_file():
                shutil.copyfile(source.parent / extra, target.parent / extra)
        meta = {"original file path": str(source), "local file path": str(target)}
        (target.parent / f"{name}.json").write_text(json.dumps(meta))
        temporary = target.with_name(f".{name}.py.{os.getpid()}.tmp")
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)  # last: a half-written copy is never picked up as current
    return written


def register_quietly() -> None:
    """:func:`register`, ignoring every failure (a read-only home, a missing folder): it runs at start-up."""
    if os.getenv("GSI_BENCH_NO_EVALUATE_CACHE"):
        return
    try:
        register()
    except Exception:  # noqa: BLE001, S110 (start-up hook: never break the interpreter)
        pass


if __name__ == "__main__":
    for path in register():
        print(path)
    sys.exit(0)
