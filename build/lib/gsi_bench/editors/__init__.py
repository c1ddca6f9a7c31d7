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
from functools import cached_property
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
#: Extensions ``folder:`` reads (in any letter case), in order of preference when one sample has several files:
#: lossless formats first.
IMAGE_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg")
_EXTENSION_LIST = ", ".join(IMAGE_EXTENSIONS)
#: Other extensions of image files: reported as unusable when they are named after a sample.
_OTHER_IMAGE_EXTENSIONS = (".gif", ".avif", ".heic", ".heif", ".jxl", ".jp2", ".ppm", ".pgm", ".exr", ".npy", ".svg")
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

    For a row, the candidates are files named ``<sample_id>`` or :func:`reference_name` (``<sample_id>_edit_0``)
    with an extension of :data:`IMAGE_EXTENSIONS` in any letter case (``.PNG`` too), in ``PATH`` and, if it
    exists, ``PATH/generated_images_<dataset>`` (``dataset`` = the row's ``reference_format.dataset`` key, e.g.
    ``mesatask``, so ``folder:eval/<model>`` of the reference layout works). When a sample has several
    candidates, the documented choice is: ``PATH`` before the sub-folder, the sample id before the reference
    name, then lossless formats before lossy ones (the order of :data:`IMAGE_EXTENSIONS`); the others are
    reported by :meth:`_FolderEditor.diagnose`, never silently picked. No candidate gives None (scored
    ``missing``). The prediction is returned as a path, so the scorer reports an undecodable file as
    ``unreadable``, a directory named like an output as ``unreadable`` and a dangling link as ``missing``, each
    with its reason.

    Raises:
        FileNotFoundError: ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"editor folder:{path}: {root} is not a directory of edited images")
    return _FolderEditor(root)


def _candidate_rank(path: Path) -> int:
    suffix = path.suffix.lower()
    return IMAGE_EXTENSIONS.index(suffix) if suffix in IMAGE_EXTENSIONS else len(IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class _FolderEditor:
    """The ``folder:`` editor (a class rather than a closure, so evaluation workers can pickle it)."""

    root: Path

    @cached_property
    def _entries(self) -> dict[tuple[str, str], list[Path]]:
        """``(folder name relative to root, stem) -> entries`` with a readable extension, listed once."""
        entries: dict[tuple[str, str], list[Path]] = {}
        for folder in (self.root, *sorted(self.root.glob("generated_images_*"))):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() in IMAGE_EXTENSIONS:
                    key = (str(folder.relative_to(self.root)), path.stem)
                    entries.setdefault(key, []).append(path)
        return entries

    def candidates(self, row: Mapping[str, Any]) -> list[Path]:
        """Every entry that could be this row's output, best first (see :func:`folder_editor`)."""
        reference = row.get("reference_format") or {}
        found = []
        for folder in (".", f"generated_images_{reference.get('dataset', '')}"):
            for stem in (str(row["sample_id"]), reference_name(row)):
                found += sorted(self._entries.get((folder, stem), []), key=_candidate_rank)
        usable = [path for path in found if path.is_file()]
        return usable + [path for path in found if path not in usable]

    def __call__(self, row: Mapping[str, Any]) -> Prediction:
        candidates = self.candidates(row)
        return candidates[0] if candidates else None

    def diagnose(self, rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """What the folder holds beyond one usable file per row: every file that will not be scored, and why.

        Returns:
            ``{"matched": rows with a file, "duplicates": [{"sample_id", "used", "ignored"}], "unmatched":
            [{"file", "reason"}]}``; paths relative to the folder, sorted.
        """
        used: set[Path] = set()
        duplicates, matched, expected = [], 0, {}
        for row in rows:
            candidates = self.candidates(row)
            for stem in (str(row["sample_id"]), reference_name(row)):
                expected[stem] = str(row["sample_id"])
            if not candidates:
                continue
            matched += 1
            used.add(candidates[0])
            if len(candidates) > 1:
                duplicates.append(
                    {
                        "sample_id": str(row["sample_id"]),
                        "used": self._relative(candidates[0]),
                        "ignored": [self._relative(path) for path in candidates[1:]],
                    }
                )
        ignored = {path for entry in duplicates for path in entry["ignored"]}
        unmatched = []
        for path in sorted(self.root.rglob("*")):
            relative = self._relative(path)
            if path in used or relative in ignored or path.name.startswith(".") or path.is_dir():
                continue
            reason = self._unmatched_reason(path, expected)
            if reason:
                unmatched.append({"file": relative, "reason": reason})
        return {"matched": matched, "duplicates": duplicates, "unmatched": unmatched}

    def _relative(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def _unmatched_reason(self, path: Path, expected: Mapping[str, str]) -> str:
        """Why a file that is not scored is not, or "" for files that are not predictions (notes, manifests)."""
        suffix = path.suffix.lower()
        searched = path.parent == self.root or path.parent.name.startswith("generated_images_")
        if path.stem in expected and suffix not in IMAGE_EXTENSIONS:
            kind = suffix or "a file without extension"
            return f"named after sample {expected[path.stem]}, but {kind} is not read: use {_EXTENSION_LIST}"
        if suffix not in IMAGE_EXTENSIONS + _OTHER_IMAGE_EXTENSIONS:
            return ""
        if not searched:
            return (
                f"in the sub-folder {self._relative(path.parent)}/, which is not searched (only the folder itself and"
                " generated_images_<dataset>/)"
            )
        if path.stem in expected:
            return f"named after sample {expected[path.stem]}, but another sub-folder's dataset key applies to it"
        if suffix not in IMAGE_EXTENSIONS:
            return f"{suffix} is not read (use {_EXTENSION_LIST}), and its name matches no sample"
        return "its name matches no sample id of the scored rows"
