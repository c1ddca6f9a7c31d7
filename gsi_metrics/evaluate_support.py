"""What the five Hugging Face ``evaluate`` modules share: input features, lossless input handling, result views.

``evaluate`` writes every input through declared ``datasets.Features`` into Arrow before ``_compute``
sees it. The modules (``gsi_metrics/gsi_bench`` and the four single-axis ones) declare:

- ``references``: one GSI-Bench row, the struct of :data:`gsi_datasets.schema.FEATURES` (the data
  contract) with every image undecoded (``datasets.Image(decode=False)``), so ``_compute`` receives the
  stored PNG bytes instead of a whole split of decoded images in memory. A ``datasets.Dataset`` is
  passed as a view with undecoded images (no image is decoded and re-encoded on the way in); a list
  of rows works too (decoded PIL images in rows are re-encoded as PNG by ``datasets``, lossless, slower).
- ``predictions``: ``datasets.Image(decode=False)``. Before ``evaluate`` encodes them,
  :func:`encode_prediction` turns PIL images and arrays into lossless PNG bytes of exactly the pixels
  :func:`gsi_metrics.predictions.read_pixels` reads from them (``datasets`` would otherwise re-save an
  in-memory JPEG as JPEG, lossy, and reject float arrays), keeps paths as paths (read at compute time, so a
  missing file is scored ``missing``) and ``None`` as null (a missing prediction, scored and counted, never
  dropped). A prediction that breaks the input contract (:mod:`gsi_metrics.predictions`) is stored as its
  :class:`~gsi_metrics.predictions.RejectedPrediction`, so its status and reason reach the results.

Every module's result carries the per-sample statuses and messages (``samples``, or ``<axis>_samples``):
one bad prediction is one sample's status, never an exception out of ``compute``.

:class:`GSIMetric` is the ``evaluate.Metric`` base class of the modules; it adds exactly this input
handling to ``add``/``add_batch`` (``compute`` goes through ``add_batch``), checks that there is one
prediction per reference, and lets evaluate's input type check accept null struct fields (a tabletop row
has ``reference_object = None``, which evaluate 0.4.6 rejects otherwise). Scoring itself is
:mod:`gsi_metrics.scoring`; this module only moves inputs in and results out.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
import evaluate
from PIL import Image

from gsi_datasets.schema import FEATURES as ROW_FEATURES
from gsi_metrics.perception import PerceptionBackend
from gsi_metrics.predictions import RejectedPrediction, check_value_range, read_pixels
from gsi_metrics.scoring import AXES, GSIBenchScorer, Prediction, SampleScore

__all__ = [
    "ARGS_DESCRIPTION",
    "CITATION",
    "FEATURES",
    "GSIMetric",
    "REFERENCE_FEATURES",
    "axis_results",
    "encode_prediction",
    "metric_info",
    "prepare_references",
    "score_all",
    "suite_results",
]

CITATION = """\
@inproceedings{zhu2026gsibench,
  title     = {Exploring Spatial Intelligence from a Generative Perspective},
  author    = {Zhu and others},
  booktitle = {CVPR},
  year      = {2026},
  note      = {arXiv:2604.20570}
}
"""

HOMEPAGE = "https://arxiv.org/abs/2604.20570"

# PNG is lossless at every level; level 1 encodes a 512x512 RGB image several times faster than the default.
_PNG_COMPRESS_LEVEL = 1


def _undecoded(feature: Any) -> Any:
    """``feature`` with every ``datasets.Image`` in it set to ``decode=False``."""
    if isinstance(feature, datasets.Image):
        return datasets.Image(decode=False)
    if isinstance(feature, dict):
        return {name: _undecoded(sub) for name, sub in feature.items()}
    if isinstance(feature, datasets.List):
        return datasets.List(_undecoded(feature.feature), length=feature.length)
    return feature


#: One reference: a GSI-Bench row with undecoded images (``_compute`` gets ``{"bytes", "path"}`` dicts).
REFERENCE_FEATURES: dict[str, Any] = _undecoded(dict(ROW_FEATURES))
#: The declared inputs of every GSI-Bench ``evaluate`` module.
FEATURES = datasets.Features({"predictions": datasets.Image(decode=False), "references": REFERENCE_FEATURES})
_IMAGE_COLUMNS = tuple(name for name, feature in ROW_FEATURES.items() if isinstance(feature, datasets.Image))


def encode_prediction(prediction: Any, value_range: str = "auto") -> dict[str, Any] | None:
    """One prediction as the ``{"bytes", "path"}`` dict that ``datasets.Image`` stores, without loss.

    Args:
        prediction: anything the input contract accepts (:mod:`gsi_metrics.predictions`): a PIL image, an
            array or tensor, a path, encoded image bytes, or ``None`` for a missing output.
        value_range: the declared range of array predictions (``"auto"`` detects it).

    Returns:
        ``None`` for ``None``; ``{"path": ...}`` for a path (read when scoring, so a missing file is
        scored ``missing``); ``{"bytes": ...}`` for bytes as given; for images and arrays, PNG bytes of the
        RGB (or RGBA, when transparent) pixels :func:`~gsi_metrics.predictions.read_pixels` reads from them
        at their own size (the resize to the source size happens when scoring, as without ``evaluate``).
        Anything that breaks the contract becomes the bytes of its
        :class:`~gsi_metrics.predictions.RejectedPrediction`, scored with that status and message.
    """
    if prediction is None:
        return None
    if isinstance(prediction, (str, os.PathLike)):
        return {"bytes": None, "path": os.fspath(prediction)}
    if isinstance(prediction, (bytes, bytearray)):
        return {"bytes": bytes(prediction), "path": None}
    if isinstance(prediction, Mapping) and ("bytes" in prediction or "path" in prediction):
        return {"bytes": prediction.get("bytes"), "path": prediction.get("path")}  # already datasets' encoding
    loaded = read_pixels(prediction, value_range)
    if loaded.image is None:
        return {"bytes": RejectedPrediction(loaded.status, loaded.message).to_bytes(), "path": None}
    buffer = io.BytesIO()
    Image.fromarray(loaded.image).save(buffer, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    return {"bytes": buffer.getvalue(), "path": None}


def _check_columns(columns: Sequence[str], where: str) -> None:
    missing = [name for name in ROW_FEATURES if name not in columns]
    if missing:
        raise ValueError(
            f"references must be GSI-Bench rows with the columns of gsi_datasets.schema.FEATURES; {where} lacks "
            f"{missing}"
        )


def prepare_references(references: Any) -> Any:
    """References as ``evaluate`` should encode them: rows with exactly the schema's columns.

    A ``datasets.Dataset`` becomes an unformatted view with undecoded images (cheap: no data is
    copied), so its PNG bytes reach Arrow as stored. Extra columns are dropped; missing ones raise.

    Raises:
        ValueError: A row lacks a schema column.
        TypeError: ``references`` is neither a ``datasets.Dataset`` nor a sequence of row mappings.
    """
    if isinstance(references, Mapping):  # a batch of columns, as `ds.iter(batch_size=...)` gives (streaming too)
        references = rows_of_column_batch(references)
    if isinstance(references, datasets.Dataset):
        _check_columns(references.column_names, "the dataset")
        view = references.with_format(None)
        extra = [name for name in view.column_names if name not in ROW_FEATURES]
        if extra:
            view = view.remove_columns(extra)
        for name in _IMAGE_COLUMNS:
            if view.features[name] != datasets.Image(decode=False):
                view = view.cast_column(name, datasets.Image(decode=False))
        return view
    if isinstance(references, Sequence) and not isinstance(references, (str, bytes)):
        rows = []
        for index, row in enumerate(references):
            if not isinstance(row, Mapping):
                raise TypeError(f"references[{index}] is a {type(row).__name__}; expected a GSI-Bench row (a mapping)")
            _check_columns(list(row), f"references[{index}]")
            rows.append({name: row[name] for name in ROW_FEATURES})
        return rows
    raise TypeError(
        "references must be a datasets.Dataset, a list of GSI-Bench rows or a batch of columns, got "
        f"{type(references).__name__}"
    )


def rows_of_column_batch(batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a batch of columns (``{"sample_id": [...], "source_image": [...], ...}``).

    Raises:
        ValueError: the columns are not lists of one length (a single row was given where a batch was expected).
    """
    lengths = {name: len(values) if isinstance(values, (list, tuple)) else None for name, values in batch.items()}
    if None in lengths.values() or len(set(lengths.values())) != 1:
        raise ValueError(
            "references is a mapping but not a batch of columns of one length (for one row use add(), or pass "
            f"[row]); column lengths: {dict(list(lengths.items())[:6])}"
        )
    names = list(batch)
    return [dict(zip(names, values, strict=True)) for values in zip(*(batch[name] for name in names), strict=True)]


def _scoring_prediction(stored: Mapping[str, Any] | None) -> Prediction:
    """A stored prediction as :func:`~gsi_metrics.predictions.load_prediction` takes it (bytes, path or None)."""
    if stored is None:
        return None
    return stored["bytes"] if stored.get("bytes") is not None else stored.get("path")


def _scoring_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored reference with every image as bytes (rows given with PIL images opened from files keep
    only the file's path in Arrow; the scoring core reads bytes). A file that cannot be read stays a path,
    and scoring reports the row as ``bad_reference``."""
    row = dict(row)
    for name in _IMAGE_COLUMNS:
        image = row.get(name)
        if isinstance(image, Mapping) and image.get("bytes") is None and image.get("path"):
            try:
                row[name] = {"bytes": Path(image["path"]).read_bytes(), "path": image["path"]}
            except OSError:
                pass
    return row


def score_all(scorer: GSIBenchScorer, predictions: Sequence[Any], references: Sequence[Mapping[str, Any]]) -> None:
    """Scores every (stored) prediction against its reference row into ``scorer``, in order."""
    for row, prediction in zip(references, predictions, strict=True):
        scorer.update(_scoring_row(row), _scoring_prediction(prediction))


def sample_results(scores: Sequence[SampleScore], axes: Sequence[str] = AXES) -> list[dict[str, Any]]:
    """Per-sample records of a module's result: ``sample_id``, ``operation``, ``status``, ``message`` and the
    raw value (0-1, before the profile's gating) of each of ``axes``."""
    return [
        {
            "sample_id": score.sample_id,
            "operation": score.operation,
            "status": score.status,
            "message": score.message,
            **{axis: getattr(score, axis.lower()) for axis in axes},
        }
        for score in scores
    ]


def suite_results(summary: Mapping[str, Any], backend: str, scores: Sequence[SampleScore] = ()) -> dict[str, Any]:
    """The ``gsi_bench`` result: :func:`~gsi_metrics.scoring.summarize`'s summary with ``overall`` flattened
    to the top (``IC``, ``IC_ci95``, ..., ``Avg``; its ``n`` is ``num_counted``), the backend's name and the
    per-sample records (``samples``, :func:`sample_results`)."""
    overall = {key: value for key, value in summary["overall"].items() if key != "n"}
    rest = {key: value for key, value in summary.items() if key != "overall"}
    return {**overall, **rest, "backend": backend, "samples": sample_results(scores)}


def axis_results(summary: Mapping[str, Any], axis: str, scores: Sequence[SampleScore] = ()) -> dict[str, Any]:
    """One axis of a summary, every key prefixed with the axis so ``evaluate.combine`` merges them as is.

    Returns:
        ``{axis, axis_ci95, axis_per_operation, axis_per_operation_ci95, axis_samples}`` (the last: per-sample
        statuses, messages and raw values, :func:`sample_results`), plus ``axis_conditional_on_compliance``
        for EL and AC (their mean over compliant samples).
    """
    if axis not in AXES:
        raise ValueError(f"unknown axis {axis!r}; choose one of {AXES}")
    per_operation = summary["per_operation"]
    result: dict[str, Any] = {
        axis: summary["overall"][axis],
        f"{axis}_ci95": summary["overall"][f"{axis}_ci95"],
        f"{axis}_per_operation": {operation: values[axis] for operation, values in per_operation.items()},
        f"{axis}_per_operation_ci95": {
            operation: values[f"{axis}_ci95"] for operation, values in per_operation.items()
        },
    }
    if axis in summary["conditional_on_compliance"]:
        result[f"{axis}_conditional_on_compliance"] = summary["conditional_on_compliance"][axis]
    result[f"{axis}_samples"] = sample_results(scores, (axis,))
    return result


class GSIMetric(evaluate.Metric):
    """``evaluate.Metric`` with GSI-Bench's input handling and scoring.

    A module only declares its texts and which axis it reports: ``AXIS`` is one of ``AXES``, or None for the
    whole suite; ``DESCRIPTION`` and ``DOCS`` (returns and examples) make its card.
    """

    AXIS: str | None = None
    DESCRIPTION: str = ""
    DOCS: str = ""

    def _info(self) -> evaluate.MetricInfo:
        return metric_info(self.DESCRIPTION, ARGS_DESCRIPTION + self.DOCS)

    def _compute(
        self,
        predictions: list[dict[str, Any] | None],
        references: list[dict[str, Any]],
        profile: str = "gsi",
        backend: str | PerceptionBackend = "classical",
        judge: str | None = None,
        judge_options: Mapping[str, Any] | None = None,
        lpips: str | None = None,
        ac_features: str | None = None,
    ) -> dict[str, Any]:
        """Scores every prediction against its row with :mod:`gsi_metrics.scoring`."""
        scorer = GSIBenchScorer(
            profile=profile, backend=backend, judge=judge, judge_options=judge_options, lpips=lpips,
            ac_features=ac_features,
        )  # fmt: skip
        score_all(scorer, predictions, references)
        summary = scorer.compute()
        if self.AXIS is None:
            return suite_results(summary, scorer.backend.name, scorer.scores)
        return axis_results(summary, self.AXIS, scorer.scores)

    def compute(
        self, *, predictions: Any = None, references: Any = None, value_range: str = "auto", **kwargs: Any
    ) -> dict[str, Any] | None:
        """``evaluate``'s ``compute``; ``value_range`` declares the range of array predictions (``"auto"``,
        ``"0-1"``, ``"-1-1"``, ``"0-255"``, ``"0-65535"``; see :mod:`gsi_metrics.predictions`)."""
        check_value_range(value_range)
        if predictions is not None:
            predictions = [encode_prediction(prediction, value_range) for prediction in predictions]
        return super().compute(predictions=predictions, references=references, **kwargs)

    def add_batch(
        self, *, predictions: Any = None, references: Any = None, value_range: str = "auto", **kwargs: Any
    ) -> None:
        """Adds predictions and their reference rows (see the module docstring for what is accepted).

        Raises:
            ValueError: The numbers of predictions and references differ, a row lacks a schema column, or
                ``value_range`` is unknown.
        """
        if references is not None:
            references = prepare_references(references)
        if predictions is not None and references is not None and len(predictions) != len(references):
            raise ValueError(
                f"got {len(predictions)} predictions for {len(references)} references: pass exactly one "
                "prediction per reference row, in the same order (None where the editor gave no output)"
            )
        check_value_range(value_range)
        if predictions is not None:
            predictions = [encode_prediction(prediction, value_range) for prediction in predictions]
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction: Any = None, reference: Any = None, value_range: str = "auto", **kwargs: Any) -> None:
        """Adds one prediction and its reference row."""
        check_value_range(value_range)
        if reference is not None:
            reference = prepare_references([reference])[0]
        super().add(prediction=encode_prediction(prediction, value_range), reference=reference, **kwargs)

    def _enforce_nested_string_type(self, schema: Any, obj: Any) -> Any:
        # evaluate's type check recurses into struct fields without allowing nulls, but a struct may be
        # null in Arrow and in our rows (a tabletop row has reference_object = None): nothing to check there.
        if obj is None:
            return None
        return super()._enforce_nested_string_type(schema, obj)


#: The ``Args`` part of every module's inputs description (the five modules take the same inputs).
ARGS_DESCRIPTION = """
Args:
    predictions (`list`): one edited image per reference row, in the same order: a PIL image, an array or
        tensor (`(H, W)`, `(H, W, C)` or `(C, H, W)`; uint8, uint16, bool, or floats in [0, 1], [-1, 1] or
        [0, 255]), a path to an image file, encoded image bytes, or `None` where the editor gave no output.
        Bad predictions are scored 0 and counted, never dropped, each with its status and reason in the
        per-sample records (`missing`, `unreadable`, `unsupported_format`, `invalid_values`, `too_large`,
        `wrong_size`); the full input contract is in `gsi_metrics/predictions.py`.
    references (`datasets.Dataset`, `list` of `dict`, or a batch of columns): GSI-Bench rows, e.g.
        `load_dataset("gsi-bench/syn", "tabletop", split="test")`, a list of its rows, or a batch of
        `ds.iter(batch_size=...)` (of a streaming `IterableDataset` too), with every column of
        `gsi_datasets.schema.FEATURES` (extra columns are ignored).
    profile (`str`, *optional*, defaults to `"gsi"`): `"gsi"` (ours) or `"paper"` (the reference formulas).
    backend (`str` or perception backend, *optional*, defaults to `"classical"`): the perception backend that
        recovers the 3D change from each edited image; `"classical"` needs no weights and runs on CPU.
    judge (`str`, *optional*): a multimodal judge for AC, `"openai-compatible:<base url>"` (a vLLM / SGLang server or a
        hosted API) or `"transformers:<model id or folder>"`, with `judge_options` (`{"model": ...}`); without one, AC
        is the weight-free measure. Profile `paper` asks and reads it as the reference does.
    lpips (`str`, *optional*): the import path (`"package.module:factory"`) of a factory returning a masked learned
        distance `(source, edited, outside_mask) -> float` (LPIPS): profile `paper` then gates locality on SSIM and it
        and reports EL as `1 - LPIPS`, as the reference does; without it, SSIM alone.
    ac_features (`str`, *optional*): an image encoder for AC (`"hf-hub:facebook/dinov2-small"`, `"local-dir:<path>"`):
        AC becomes the cosine similarity of the target's mean patch descriptor before and after (a judge, when given,
        still decides AC).
    value_range (`str`, *optional*, defaults to `"auto"`): the value range of array predictions: `"auto"`
        (from the dtype; for floats the first of 0-1, -1-1, 0-255 holding every value), or declared: `"0-1"`,
        `"-1-1"`, `"0-255"`, `"0-65535"`. NaN or infinite values are status `invalid_values`.
"""


def metric_info(description: str, inputs_description: str) -> evaluate.MetricInfo:
    """The ``MetricInfo`` of a GSI-Bench module: its texts, the shared features and references."""
    return evaluate.MetricInfo(
        module_type="metric",
        description=description,
        citation=CITATION,
        inputs_description=inputs_description,
        features=FEATURES,
        homepage=HOMEPAGE,
        reference_urls=[HOMEPAGE],
    )
