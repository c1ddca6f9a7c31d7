"""Learned experts from ``transformers`` for scene-free perception (:mod:`gsi_metrics.perception.experts`): metric
depth of the edited image, open-vocabulary detection (optionally segmented) of the target's category, dense image
features.

Name them in the classical backend's ``experts`` option as a mapping (the command line reads it as YAML)::

    --backend-option 'experts={depth: hf-hub:depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf,
        detector: hf-hub:google/owlv2-base-patch16-ensemble, segmenter: hf-hub:facebook/sam-vit-base,
        features: hf-hub:facebook/dinov2-small}'

Keys: ``depth`` (``AutoModelForDepthEstimation``; a metric model, since depth is read in metres), ``detector``
(``AutoModelForZeroShotObjectDetection``: OWL-ViT, OWLv2, Grounding DINO; each box of the category above
``threshold`` is a segment, best first), ``segmenter`` (``AutoModelForMaskGeneration``, SAM: the detector's boxes
become its box prompts and its masks replace the boxes; needs a detector), ``features`` (``AutoModel`` of a ViT-style
image encoder: DINOv2, CLIP's vision tower; its patch tokens become the descriptor grid), and ``device``, ``dtype``
(``auto``: bfloat16 on a GPU, float32 on the CPU), ``threshold`` (0.1), ``batch_size`` (8). A source is
``hf-hub:<id>`` (the Hub, or its cache offline) or ``local-dir:<path>`` (a folder written by ``save_pretrained``), with
an optional ``@<revision>`` after a Hub id. Models load lazily, on first use, once per process
(:func:`load_transformers_experts`); :meth:`TransformersExperts.describe` records each model's id, revision and resolved
snapshot for the results' manifest.

Batched inference: :meth:`TransformersExperts.prefetch` runs each model over many rows at once (``batch_size`` images
of one size per forward pass) and keeps the answers; the per-image methods then read them instead of running the
model. ``gsi-bench eval`` prefetches ``batch_size`` rows at a time when it scores in one process (one process per GPU
under ``accelerate launch``). Answers are kept by image content (a hash), so the reference object, the distractors and
the AC features of a row reuse what its target already asked for, with or without prefetching.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache

from gsi_metrics.perception.experts import ExpertRequest

__all__ = ["ModelSource", "TransformersExperts", "load_transformers_experts"]

#: The keys of an experts mapping.
EXPERT_KEYS = ("depth", "detector", "segmenter", "features", "device", "dtype", "threshold", "batch_size")
#: The models of a mapping, by role.
MODEL_ROLES = ("depth", "detector", "segmenter", "features")
#: Most segments of one category in one image (the detector's best boxes; perception uses the first few).
MOST_SEGMENTS = 8


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: ``hf-hub:<id>[@<revision>]`` or ``local-dir:<path>`` (timm's source prefixes)."""

    kind: str
    name: str
    revision: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelSource:
        """Raises ValueError for another prefix, a missing folder, or a Hub id that is not ``owner/name``."""
        kind, separator, rest = str(text).partition(":")
        if not separator or kind not in ("hf-hub", "local-dir") or not rest:
            raise ValueError(f"model source {text!r}: use hf-hub:<owner/name>[@revision] or local-dir:<path>")
        if kind == "local-dir":
            if not Path(rest).expanduser().is_dir():
                raise ValueError(f"model source {text!r}: {rest} is not a folder (one written by save_pretrained)")
            return cls(kind, str(Path(rest).expanduser()))
        name, _, revision = rest.partition("@")
        if name.count("/") != 1:
            raise ValueError(f"model source {text!r}: a Hub id is owner/name")
        return cls(kind, name, revision or None)

    def describe(self) -> dict[str, Any]:
        description: dict[str, Any] = {"source": self.kind, "id": self.name, "revision": self.revision}
        if self.kind == "hf-hub":
            try:
                from huggingface_hub import snapshot_download

                path = snapshot_download(self.name, revision=self.revision, local_files_only=True)
                description["snapshot"] = re.search(r"snapshots/([0-9a-f]{40})", path).group(1)  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 (not in the cache: the id and revision as given)
                description["snapshot"] = None
        return description


#: One question to a model: an image, and the category it is asked about (None when the model takes none).
_Question = tuple[np.ndarray, str | None]


class TransformersExperts:
    """The experts of a mapping (module docstring); each model loads when first asked."""

    def __init__(
        self,
        depth: str | None = None,
        detector: str | None = None,
        segmenter: str | None = None,
        features: str | None = None,
        device: str | None = None,
        dtype: str = "auto",
        threshold: float = 0.1,
        batch_size: int = 8,
    ) -> None:
        named = {"depth": depth, "detector": detector, "segmenter": segmenter, "features": features}
        self.sources = {role: ModelSource.parse(text) for role, text in named.items() if text is not None}
        if not self.sources:
            raise ValueError(f"experts: name at least one of {', '.join(MODEL_ROLES)}")
        if segmenter is not None and detector is None:
            raise ValueError("experts: a segmenter refines the detector's boxes; name a detector too")
        if int(batch_size) < 1:
            raise ValueError(f"experts: batch_size must be >= 1, got {batch_size}")
        self.device_option, self.dtype_option, self.threshold = device, dtype, float(threshold)
        self.batch_size = int(batch_size)
        #: Answers by (role, image hash, category), the 16 a batch slot used last (depth maps are full-size).
        self._answers: LRUCache[tuple[str, str, str | None], Any] = LRUCache(maxsize=16 * self.batch_size)
        #: Forward passes run, by role (for tests and benchmarks of the batching).
        self.forward_passes = dict.fromkeys(MODEL_ROLES, 0)

    @cached_property
    def device(self) -> str:
        import torch

        return self.device_option or ("cuda" if torch.cuda.is_available() else "cpu")

    @cached_property
    def dtype(self) -> Any:
        import torch

        name = self.dtype_option
        if name == "auto":
            name = "float32" if self.device.split(":")[0] == "cpu" else "bfloat16"
        return getattr(torch, name)

    def _load(self, role: str, model_class: str, processor_class: str) -> tuple[Any, Any]:
        import transformers

        source = self.sources[role]
        kwargs = {"revision": source.revision} if source.revision else {}
        processor = getattr(transformers, processor_class).from_pretrained(source.name, **kwargs)
        model = getattr(transformers, model_class).from_pretrained(source.name, dtype=self.dtype, **kwargs)
        return processor, model.to(self.device).eval()

    @cached_property
    def _depth(self) -> tuple[Any, Any]:
        return self._load("depth", "AutoModelForDepthEstimation", "AutoImageProcessor")

    @cached_property
    def _detector(self) -> tuple[Any, Any]:
        return self._load("detector", "AutoModelForZeroShotObjectDetection", "AutoProcessor")

    @cached_property
    def _segmenter(self) -> tuple[Any, Any]:
        return self._load("segmenter", "AutoModelForMaskGeneration", "AutoProcessor")

    @cached_property
    def _features(self) -> tuple[Any, Any]:
        return self._load("features", "AutoModel", "AutoImageProcessor")

    def _inputs(self, processor: Any, **kwargs: Any) -> Any:
        inputs = processor(return_tensors="pt", **kwargs).to(self.device)
        return {k: v.to(self.dtype) if v.is_floating_point() else v for k, v in inputs.items()}

    # -- answers, batched and kept -------------------------------------------------------------------------

    def _asked(self, role: str, questions: Sequence[_Question]) -> list[Any]:
        """The answers of ``role`` to ``questions``: kept ones, the rest computed in batches of ``batch_size``
        images of one size (each batch one forward pass)."""
        keys = [(role, _digest(image), text) for image, text in questions]
        answers = {key: self._answers[key] for key in keys if key in self._answers}
        missing = {key: question for key, question in zip(keys, questions, strict=True) if key not in answers}
        by_size: dict[tuple[int, ...], list[tuple[str, str, str | None]]] = {}
        for key, (image, _) in missing.items():
            by_size.setdefault(image.shape, []).append(key)
        for group in by_size.values():
            for start in range(0, len(group), self.batch_size):
                batch = group[start : start + self.batch_size]
                self.forward_passes[role] += 1
                computed = self._compute(role, [missing[key] for key in batch])
                answers.update(zip(batch, computed, strict=True))
        for key in keys:
            self._answers[key] = answers[key]
        return [answers[key] for key in keys]

    def _compute(self, role: str, questions: list[_Question]) -> list[Any]:
        compute: dict[str, Callable[[list[_Question]], list[Any]]] = {
            "depth": self._depth_maps,
            "detector": self._segments,
            "features": self._feature_grids,
        }
        return compute[role](questions)

    def prefetch(self, requests: Sequence[ExpertRequest]) -> None:
        """Runs every model on the images of ``requests`` in batches, so that the per-image methods that perception
        then calls for these rows read kept answers."""
        if "features" in self.sources:
            self._asked("features", [(image, None) for r in requests for image in (r.source, r.edited)])
        if "depth" in self.sources:
            self._asked("depth", [(r.edited, None) for r in requests])
        if "detector" in self.sources:
            self._asked("detector", [(r.edited, category) for r in requests for category in r.categories])

    # -- the interface of gsi_metrics.perception.experts ---------------------------------------------------

    def edited_depth(self, edited: np.ndarray) -> np.ndarray | None:
        """Metric depth (m) of ``edited`` at its own size, or None without a depth model."""
        return self._asked("depth", [(edited, None)])[0] if "depth" in self.sources else None

    def segment(self, edited: np.ndarray, category: str) -> list[np.ndarray] | None:
        """The detector's boxes of ``category`` (scores above the threshold, the best ``MOST_SEGMENTS``, best first) as
        masks: the segmenter's, or the filled boxes without one; None without a detector."""
        return self._asked("detector", [(edited, category)])[0] if "detector" in self.sources else None

    def features(self, image: np.ndarray) -> np.ndarray | None:
        """The patch tokens of ``image`` as a ``(rows, columns, C)`` grid, or None without a feature model."""
        return self._asked("features", [(image, None)])[0] if "features" in self.sources else None

    # -- forward passes ------------------------------------------------------------------------------------

    def _depth_maps(self, questions: list[_Question]) -> list[np.ndarray]:
        import torch

        images = [image for image, _ in questions]
        processor, model = self._depth
        with torch.inference_mode():
            outputs = model(**self._inputs(processor, images=images))
        maps = processor.post_process_depth_estimation(outputs, target_sizes=[image.shape[:2] for image in images])
        return [depth["predicted_depth"].float().cpu().numpy() for depth in maps]

    def _segments(self, questions: list[_Question]) -> list[list[np.ndarray]]:
        import torch

        images = [image for image, _ in questions]
        texts = [[f"a photo of a {str(category).replace('_', ' ')}"] for _, category in questions]
        processor, model = self._detector
        with torch.inference_mode():
            outputs = model(**self._inputs(processor, text=texts, images=images))
        found = processor.post_process_grounded_object_detection(
            outputs, threshold=self.threshold, target_sizes=[image.shape[:2] for image in images]
        )
        boxes = []
        for image, detections in zip(images, found, strict=True):
            order = np.argsort(-detections["scores"].float().cpu().numpy(), kind="stable")
            boxes.append([_clipped(detections["boxes"][i].float().cpu().numpy(), image.shape[:2]) for i in order])
        boxes = [[box for box in image_boxes if box is not None][:MOST_SEGMENTS] for image_boxes in boxes]
        masks = [
            [_filled(box, image.shape[:2]) for box in image_boxes]
            for image, image_boxes in zip(images, boxes, strict=True)
        ]
        if "segmenter" in self.sources:
            self._segment_boxes(images, boxes, masks)
        return masks

    def _segment_boxes(self, images: list[np.ndarray], boxes: list[list[np.ndarray]], masks: list[list[Any]]) -> None:
        """Replaces each box's filled mask by the segmenter's mask in it (one forward pass for the images with boxes:
        each image's prompts padded to the most boxes by repeating its first); an empty mask leaves the box."""
        import torch

        prompted = [i for i, image_boxes in enumerate(boxes) if image_boxes]
        if not prompted:
            return
        count = max(len(boxes[i]) for i in prompted)
        prompts = [[box.tolist() for box in boxes[i]] for i in prompted]
        prompts = [boxes_of + [boxes_of[0]] * (count - len(boxes_of)) for boxes_of in prompts]
        processor, model = self._segmenter
        self.forward_passes["segmenter"] += 1
        inputs = self._inputs(processor, images=[images[i] for i in prompted], input_boxes=prompts)
        with torch.inference_mode():
            outputs = model(**inputs, multimask_output=False)
        predicted = processor.image_processor.post_process_masks(
            outputs.pred_masks.float().cpu(), inputs["original_sizes"].cpu(), inputs["reshaped_input_sizes"].cpu()
        )
        for i, image_masks in zip(prompted, predicted, strict=True):
            for j in range(len(boxes[i])):
                mask = image_masks[j, 0].numpy().astype(bool)
                if mask.any():
                    masks[i][j] = mask

    def _feature_grids(self, questions: list[_Question]) -> list[np.ndarray]:
        import torch

        processor, model = self._features
        inputs = self._inputs(processor, images=[image for image, _ in questions])
        with torch.inference_mode():
            tokens = model(**inputs).last_hidden_state.float().cpu().numpy()
        rows, columns = (side // model.config.patch_size for side in inputs["pixel_values"].shape[-2:])
        # The patch tokens follow CLS and registers.
        return [image_tokens[-rows * columns :].reshape(rows, columns, -1) for image_tokens in tokens]

    def describe(self) -> dict[str, Any]:
        """Each model's source, id, revision and snapshot, and the device, dtype, threshold and batch size."""
        return {
            **{role: source.describe() for role, source in self.sources.items()},
            "device": self.device,
            "dtype": str(self.dtype).removeprefix("torch."),
            "threshold": self.threshold,
            "batch_size": self.batch_size,
        }


def _digest(image: np.ndarray) -> str:
    image = np.ascontiguousarray(image)
    return f"{image.shape}{image.dtype}:" + hashlib.blake2b(image.data, digest_size=16).hexdigest()


def _clipped(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray | None:
    """A detector box ``(x0, y0, x1, y1)`` clipped to the image, or None when nothing of it is inside."""
    height, width = shape
    x0, y0, x1, y1 = np.clip(box, 0, [width, height, width, height])
    return np.array([x0, y0, x1, y1]) if x1 - x0 >= 1 and y1 - y0 >= 1 else None


def _filled(box: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    mask = np.zeros(shape, bool)
    mask[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = True
    return mask


def load_transformers_experts(spec: Mapping[str, Any]) -> TransformersExperts:
    """The experts of a mapping, once per process (the same mapping gives the same object).

    Raises:
        ValueError: an unknown key, or a bad model source.
    """
    unknown = sorted(set(spec) - set(EXPERT_KEYS))
    if unknown:
        raise ValueError(f"experts: unknown key(s) {unknown}; use {', '.join(EXPERT_KEYS)}")
    return _cached(tuple(sorted((str(k), v) for k, v in spec.items())))


@functools.lru_cache(maxsize=4)
def _cached(items: tuple[tuple[str, Any], ...]) -> TransformersExperts:
    return TransformersExperts(**dict(items))
