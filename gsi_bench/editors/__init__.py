"""Editor registry: what ``gsi-bench eval --editor SPEC`` and ``gsi-bench generate --editor SPEC`` run on each row.

An editor is a callable ``row -> prediction``: it receives a GSI-Bench row (as ``datasets`` decodes it) and
returns the edited image as a PIL image, an array or tensor, a path to an image file (decoded by the scorer, so an
undecodable file is scored ``unreadable``), an :class:`EditOutput` (an image with notes on how it was made), or None
(scored ``missing``). Editors are created from a spec string, ``NAME`` or ``NAME:ARGUMENT`` (the timm ``hf-hub:``
pattern), and options (``--editor-option KEY=VALUE``):

- ``identity``: the source image, unchanged (the lower bound every metric must score 0 on IC);
- ``oracle``: the rendered ground-truth ``target_image`` (synthetic rows only);
- ``geometric``: the 2.5D reference editor :func:`gsi_bench.editors.geometric.geometric_edit`;
- ``folder:PATH``: precomputed outputs on disk (see :func:`folder_editor` for the file naming);
- ``python:MODULE:CALLABLE``: any function ``edit(image, instruction, **options)`` on the Python path;
- ``diffusers:MODEL``: an image-editing ``DiffusionPipeline`` (a Hub id or a local folder;
  :mod:`gsi_bench.editors.diffusion`);
- ``api:openai``, ``api:http``: an OpenAI-compatible image-edit endpoint (:mod:`gsi_bench.editors.api`).

New editors register with the :func:`register_editor` decorator, on a function ``row -> prediction`` or, with
``takes_argument=True``, on a factory ``argument -> editor``; ``takes_options=True`` passes the options to the
factory as keyword arguments. An editor object may also provide ``describe()`` (its full configuration, recorded in
manifests), ``columns`` (the row fields it reads: a model sees the source image and the instruction, never the
answer), ``concurrency`` (rows in flight at once, for remote APIs) and ``edit_batch(rows)`` with ``batch_size``.
"""

from __future__ import annotations

import difflib
import importlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image

from gsi_datasets.images import row_image

__all__ = [
    "EDITORS",
    "IMAGE_EXTENSIONS",
    "REFERENCE_QID",
    "MODEL_COLUMNS",
    "EditOutput",
    "as_editor",
    "Editor",
    "EditorFn",
    "Prediction",
    "folder_editor",
    "get_editor",
    "reference_name",
    "register_editor",
    "unwrap_prediction",
]


@dataclass(frozen=True)
class EditOutput:
    """An edited image with notes on how it was made (``{"output_size": [w, h], "resized": True}``), recorded per
    sample by ``gsi-bench generate``."""

    image: Any
    notes: Mapping[str, Any] = field(default_factory=dict)


#: What an editor returns for one row (an array or tensor is read by :mod:`gsi_metrics.predictions`).
Prediction = Image.Image | Path | EditOutput | Any | None
EditorFn = Callable[[Mapping[str, Any]], Prediction]
#: Extensions ``folder:`` reads (in any letter case), in order of preference when one sample has several files:
#: lossless formats first.
IMAGE_EXTENSIONS = (".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg")
_EXTENSION_LIST = ", ".join(IMAGE_EXTENSIONS)
#: Other extensions of image files: reported as unusable when they are named after a sample.
_OTHER_IMAGE_EXTENSIONS = (".gif", ".avif", ".heic", ".heif", ".jxl", ".jp2", ".ppm", ".pgm", ".exr", ".npy", ".svg")
#: Every GSI-Syn row is its own scene with one edit, so its reference question id is always 0 (SPEC 7).
REFERENCE_QID = 0
#: The row fields a model editor reads: what it is given, never the answer.
MODEL_COLUMNS = ("sample_id", "instruction", "source_image")


def unwrap_prediction(prediction: Prediction) -> tuple[Any, dict[str, Any]]:
    """``(image, notes)`` of an editor's return value (notes are empty unless it is an :class:`EditOutput`)."""
    if isinstance(prediction, EditOutput):
        return prediction.image, dict(prediction.notes)
    return prediction, {}


@dataclass(frozen=True)
class Editor:
    """A named editor: call it with a row to get its prediction.

    Attributes:
        spec: the spec it was created from (recorded in results manifests).
        fn: the function ``row -> prediction``.
        options: the options it was created with (recorded in manifests).
    """

    spec: str
    fn: EditorFn
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, row: Mapping[str, Any]) -> Prediction:
        return self.fn(row)

    def describe(self) -> dict[str, Any]:
        """The editor's full configuration: spec, options and what the editor reports of itself (model, revision,
        pipeline class, dtype, steps, guidance, seed and resolution policies, for a diffusion pipeline)."""
        describe = getattr(self.fn, "describe", None)
        return {"spec": self.spec, "options": dict(self.options), **(describe() if describe is not None else {})}

    @property
    def columns(self) -> tuple[str, ...] | None:
        """The row fields the editor reads, or None for all of them."""
        columns = getattr(self.fn, "columns", None)
        return tuple(columns) if columns is not None else None

    @property
    def concurrency(self) -> int:
        """How many rows may be in flight at once (1 unless the editor waits on a remote service)."""
        return max(1, int(getattr(self.fn, "concurrency", 1)))

    @property
    def batch_size(self) -> int:
        """Rows per call of ``edit_batch`` (1: the editor is called row by row)."""
        return max(1, int(getattr(self.fn, "batch_size", 1))) if hasattr(self.fn, "edit_batch") else 1

    def edit_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        """Predictions of several rows in one call (the editor's ``edit_batch``, else row by row)."""
        edit_batch = getattr(self.fn, "edit_batch", None)
        return list(edit_batch(rows)) if edit_batch is not None else [self.fn(row) for row in rows]


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., EditorFn]
    takes_argument: bool
    takes_options: bool


EDITORS: dict[str, _Entry] = {}


def register_editor(
    name: str, *, takes_argument: bool = False, takes_options: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering an editor under ``name``.

    Args:
        name: the spec name (no ``:``).
        takes_argument: if False the decorated function is the editor (``row -> prediction``); if True it is a
            factory ``argument -> editor`` and the spec must be ``name:ARGUMENT``.
        takes_options: the factory takes the editor options as keyword arguments (``takes_argument`` required).

    Raises:
        ValueError: a name registered twice or containing ``:``.
    """
    if ":" in name:
        raise ValueError(f"editor name {name!r} must not contain ':' (it separates the name from its argument)")

    def decorator(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in EDITORS:
            raise ValueError(f"editor {name!r} is registered twice")
        EDITORS[name] = _Entry(function, takes_argument, takes_options)
        return function

    return decorator


def get_editor(spec: str, options: Mapping[str, Any] | None = None) -> Editor:
    """Creates the editor of a spec, ``NAME`` or ``NAME:ARGUMENT``, with ``options`` (``--editor-option``).

    Raises:
        KeyError: unknown name, with close matches and the known names.
        ValueError: an argument given to an editor that takes none, or missing for one that needs it; options given
            to an editor that takes none, or an unknown option (with close matches and the known ones).
        FileNotFoundError: from factories whose argument names a missing path (``folder:``).
        ImportError: a ``python:`` target that cannot be imported, or an editor whose libraries are not installed.
    """
    options = dict(options or {})
    name, separator, argument = spec.partition(":")
    if name not in EDITORS:
        close = difflib.get_close_matches(name, EDITORS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        known = ", ".join(f"{n}:ARG" if e.takes_argument else n for n, e in sorted(EDITORS.items()))
        raise KeyError(f"unknown editor {name!r}.{hint} Known editors: {known}")
    entry = EDITORS[name]
    if options and not entry.takes_options:
        raise ValueError(f"editor {name!r} takes no options (got {', '.join(sorted(options))})")
    if entry.takes_argument:
        if not argument:
            raise ValueError(f"editor {name!r} needs an argument: --editor {name}:ARGUMENT")
        return Editor(spec, entry.factory(argument, **options), options)
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


@register_editor("python", takes_argument=True, takes_options=True)
def python_editor(target: str, **options: Any) -> EditorFn:
    """``python:MODULE:CALLABLE``: ``CALLABLE(image, instruction, **options)`` for each row, with the source image as
    a PIL image and the instruction as a string; it returns anything the prediction contract accepts (a PIL image,
    an array or tensor, a path, None). ``MODULE`` is imported from the Python path (the current folder included when
    run as ``python -m``); ``CALLABLE`` may be a dotted attribute (``module:Class.method``). The options are passed
    to it as keyword arguments.

    Raises:
        ValueError: ``target`` is not ``MODULE:CALLABLE``.
        ImportError: the module cannot be imported, or has no such attribute.
        TypeError: the attribute is not callable.
    """
    editor = _CallableEditor(target, options)
    editor.function  # noqa: B018 (import now: a wrong target fails before the first row, not at it)
    return editor


@dataclass(frozen=True)
class _CallableEditor:
    """The ``python:`` editor (a class, so evaluation workers can pickle it: the function travels by name), or a
    function given directly (:func:`as_editor`)."""

    target: str
    options: Mapping[str, Any]
    given: Callable[..., Any] | None = None
    columns = MODEL_COLUMNS

    @cached_property
    def function(self) -> Callable[..., Any]:
        if self.given is not None:
            return self.given
        module_name, separator, name = self.target.rpartition(":")
        if not separator or not module_name or not name:
            raise ValueError(
                f"python editor needs MODULE:CALLABLE, e.g. python:my_package.my_module:edit (got python:{self.target})"
            )
        try:
            function: Any = importlib.import_module(module_name)
        except ImportError as error:
            raise ImportError(
                f"python:{self.target}: module {module_name!r} cannot be imported ({error}); is it on"
                " the Python path (PYTHONPATH, or run from its folder)?"
            ) from error
        for part in name.split("."):
            if not hasattr(function, part):
                raise ImportError(f"python:{self.target}: {module_name} has no attribute {name!r}")
            function = getattr(function, part)
        if not callable(function):
            raise TypeError(f"python:{self.target} is a {type(function).__name__}, not a callable")
        return function

    def __call__(self, row: Mapping[str, Any]) -> Prediction:
        return self.function(row_image(row["source_image"], "source_image"), row["instruction"], **self.options)

    def describe(self) -> dict[str, Any]:
        module = importlib.import_module(getattr(self.function, "__module__", None) or "builtins")
        return {"callable": self.target, "module_file": getattr(module, "__file__", None)}


def as_editor(editor: Any, options: Mapping[str, Any] | None = None) -> Editor:
    """An :class:`Editor` from a spec string, an :class:`Editor`, a loaded ``diffusers`` pipeline, or any function
    ``edit(image, instruction, **options)`` (``options`` go to the spec's editor, the pipeline or the function).

    Raises:
        TypeError: ``editor`` is none of these.
    """
    if isinstance(editor, Editor):
        return editor
    if isinstance(editor, str):
        return get_editor(editor, options)
    if type(editor).__module__.startswith("diffusers") and hasattr(editor, "components"):
        from gsi_bench.editors.diffusion import DiffusionEditor

        wrapped = DiffusionEditor.from_pipeline(editor, **(options or {}))
        return Editor(f"diffusers:{wrapped.model}", wrapped, dict(options or {}))
    if callable(editor):
        name = f"{getattr(editor, '__module__', '?')}:{getattr(editor, '__qualname__', type(editor).__name__)}"
        return Editor(f"python:{name}", _CallableEditor(name, dict(options or {}), editor), dict(options or {}))
    raise TypeError(
        f"cannot score a {type(editor).__name__}: give an editor spec, a diffusers pipeline or a function "
        "edit(image, instruction)"
    )


@register_editor("diffusers", takes_argument=True, takes_options=True)
def diffusers_editor(model: str, **options: Any) -> EditorFn:
    """``diffusers:MODEL``: an image-editing ``DiffusionPipeline`` from a Hub id or a local folder
    (:class:`gsi_bench.editors.diffusion.DiffusionEditor`; needs the ``models`` extra)."""
    from gsi_bench.editors.diffusion import DiffusionEditor

    return DiffusionEditor.create(model, options)


@register_editor("api", takes_argument=True, takes_options=True)
def api_editor(kind: str, **options: Any) -> EditorFn:
    """``api:openai`` or ``api:http``: an OpenAI-compatible image-edit endpoint
    (:class:`gsi_bench.editors.api.ImageEditAPI`)."""
    from gsi_bench.editors.api import ImageEditAPI

    return ImageEditAPI.create(kind, options)


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
        if candidates:
            return candidates[0]
        failure = self._generation_failures.get(str(row["sample_id"]))
        if failure is None:
            return None
        from gsi_metrics.predictions import RejectedPrediction

        return RejectedPrediction("missing", failure)

    @cached_property
    def _generation_failures(self) -> dict[str, str]:
        """Why ``gsi-bench generate`` wrote no image, per sample (from its logs in the folder)."""
        from gsi_bench.generation import read_generation_log

        return {
            sample_id: f"no output: the editor {entry['status']} in gsi-bench generate ({entry['message']})"
            for sample_id, entry in read_generation_log(self.root).items()
            if entry.get("status") != "ok"
        }

    @property
    def generation_manifest(self) -> dict[str, Any] | None:
        """The folder's ``gsi-bench generate`` manifest, when it was written by one."""
        from gsi_bench.generation import GENERATION_FILE

        try:
            return json.loads((self.root / GENERATION_FILE).read_text())
        except (OSError, ValueError):
            return None

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
