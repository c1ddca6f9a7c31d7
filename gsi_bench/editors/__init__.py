"""Editor registry: what ``gsi-bench eval --editor SPEC`` runs on each dataset row.

An editor is a callable ``row -> prediction``: it receives a GSI-Bench row (as ``datasets`` decodes it) and
returns the edited image as a PIL image, a path to an image file (decoded by the scorer, so an undecodable
file is scored ``unreadable``), or None (scored ``missing``). Editors are created from a spec string,
``NAME`` or ``NAME:ARGUMENT`` (the timm ``hf-hub:`` pattern):

- ``identity``: the source image, unchanged (the lower bound every metric must score 0 on IC);
- ``oracle``: the rendered ground-truth ``target_image`` (synthetic rows only);
- ``geometric``: the 2.5D reference editor :func:`gsi_bench.editors.geometric.geometric_edit`;
- ``folder:PATH``: precomputed outputs on disk (see :func:`folder_editor` for the file naming).

New editors register with the :func:`register_editor` decorator, on a function ``row -> prediction`` or, with
``takes_argument=True``, on a factory ``argument -> editor``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from gsi_datasets.images import row_image

__all__ = [
    "EDITORS",
    "IMAGE_EXTENSIONS",
    "REFERENCE_QID",
    "Editor",
    "EditorFn",
    "Prediction",
    "folder_editor",
    "get_editor",
    "reference_name",
    "register_editor",
]

#: What an editor returns for one row.
Prediction = Image.Image | Path | None
EditorFn = Callable[[Mapping[str, Any]], Prediction]
#: Extensions ``folder:`` looks for, in this order (the first existing file wins).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
#: Every GSI-Syn row is its own scene with one edit, so its reference question id is always 0 (SPEC 7).
REFERENCE_QID = 0


@dataclass(frozen=True)
class Editor:
    """A named editor: call it with a row to get its prediction.

    Attributes:
        spec: the spec it was created from (recorded in results manifests).
        fn: the function ``row -> prediction``.
    """

    spec: str
    fn: EditorFn

    def __call__(self, row: Mapping[str, Any]) -> Prediction:
        return self.fn(row)


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., EditorFn]
    takes_argument: bool


EDITORS: dict[str, _Entry] = {}


def register_editor(name: str, *, takes_argument: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering an editor under ``name``.

    Args:
        name: the spec name (no ``:``).
        takes_argument: if False the decorated function is the editor (``row -> prediction``); if True it is a
            factory ``argument -> editor`` and the spec must be ``name:ARGUMENT``.

    Raises:
        ValueError: a name registered twice or containing ``:``.
    """
    if ":" in name:
        raise ValueError(f"editor name {name!r} must not contain ':' (it separates the name from its argument)")

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in EDITORS:
            raise ValueError(f"editor {name!r} is registered twice")
        EDITORS[name] = _Entry(function, takes_argument)
        return function

    return decorator


def get_editor(spec: str) -> Editor:
    """Creates the editor of a spec, ``NAME`` or ``NAME:ARGUMENT``.

    Raises:
        KeyError: unknown name, with close matches and the known names.
        ValueError: an argument given to an editor that takes none, or missing for one that needs it.
        FileNotFoundError: from factories whose argument names a missing path (``folder:``).
    """
    name, separator, argument = spec.partition(":")
    if name not in EDITORS:
        close = difflib.get_close_matches(name, EDITORS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(f"{n}:ARG" if e.takes_argument else n for n, e in sorted(EDITORS.items()))
        raise KeyError(f"unknown editor {name!r}.{hint} Known editors: {known}")
    entry = EDITORS[name]
    if entry.takes_argument:
        if not argument:
            raise ValueError(f"editor {name!r} needs an argument: --editor {name}:ARGUMENT")
        return Editor(spec, entry.factory(argument))
    if separator:
        raise ValueError(f"editor {name!r} takes no argument (got {spec!r}); use --editor {name}")
    return Editor(spec, entry.factory)


@register_editor("identity")
def identity(row: Mapping[str, Any]) -> Prediction:
    """The source image unchanged."""
    return row_image(row["source_image"], "source_image")


@register_editor("oracle")
def oracle(row: Mapping[str, Any]) -> Prediction:
    """The rendered ground-truth edit.

    Raises:
        ValueError: the row has no ``target_image`` (real photographs have none).
    """
    target = row.get("target_image")
    if target is None:
        raise ValueError(
            f"the oracle editor needs a rendered target_image, and sample {row.get('sample_id')!r} has none"
        )
    return row_image(target, "target_image")


@register_editor("geometric")
def geometric(row: Mapping[str, Any]) -> Prediction:
    """The 2.5D reference editor (imported on first use: it pulls in OpenCV)."""
    from gsi_bench.editors.geometric import geometric_edit

    return geometric_edit(row)


def reference_name(row: Mapping[str, Any]) -> str:
    """File stem of a row's output in the reference naming (SPEC 7), ``<img_id>_edit_<qid>``.

    A GSI-Syn row is one scene with one edit: ``img_id`` is the row's ``sample_id``
    (``syn-tabletop-test-s0-000042``) and ``qid`` is :data:`REFERENCE_QID` (0).
    """
    return f"{row['sample_id']}_edit_{REFERENCE_QID}"


@register_editor("folder", takes_argument=True)
def folder_editor(path: str) -> EditorFn:
    """Precomputed outputs in a folder.

    For a row, looks in ``PATH`` and then, if it exists, in ``PATH/generated_images_<dataset>`` (``dataset`` =
    the row's ``reference_format.dataset`` key, e.g. ``mesatask``, so ``folder:eval/<model>`` of the reference
    layout works) for ``<sample_id>`` and then :func:`reference_name` with each of :data:`IMAGE_EXTENSIONS`;
    the first existing file is the prediction. No file gives None (scored ``missing``); the file is returned
    as a path, so the scorer reports an undecodable one as ``unreadable``.

    Raises:
        FileNotFoundError: ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"editor folder:{path}: {root} is not a directory of edited images")
    return _FolderEditor(root)


@dataclass(frozen=True)
class _FolderEditor:
    """The ``folder:`` editor (a class rather than a closure, so evaluation workers can pickle it)."""

    root: Path

    def __call__(self, row: Mapping[str, Any]) -> Prediction:
        reference = row.get("reference_format") or {}
        for folder in (self.root, self.root / f"generated_images_{reference.get('dataset', '')}"):
            for stem in (str(row["sample_id"]), reference_name(row)):
                for extension in IMAGE_EXTENSIONS:
                    candidate = folder / f"{stem}{extension}"
                    if candidate.is_file():
                        return candidate
        return None

    def unmatched_files(self, rows: Iterable[Mapping[str, Any]]) -> list[str]:
        """Image files in the folder that belong to no row (a typo in a name, outputs of another split)."""
        expected = set()
        for row in rows:
            expected.update((str(row["sample_id"]), reference_name(row)))
        found = [p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
        return sorted(str(p.relative_to(self.root)) for p in found if p.stem not in expected)
