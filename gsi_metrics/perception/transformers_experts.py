"""Learned experts from ``transformers`` for scene-free perception (:mod:`gsi_metrics.perception.experts`): metric
depth of the edited image, open-vocabulary detection of the target's category, dense image features.

Name them in the classical backend's ``experts`` option as a mapping (the command line reads it as YAML)::

    --backend-option 'experts={depth: hf-hub:depth-anything/Depth-Anything-V2-Metric-Indoor-Small-hf,
        detector: hf-hub:google/owlv2-base-patch16-ensemble, features: hf-hub:facebook/dinov2-small}'

Keys: ``depth`` (``AutoModelForDepthEstimation``; a metric model, since depth is read in metres), ``detector``
(``AutoModelForZeroShotObjectDetection``: OWL-ViT, OWLv2, Grounding DINO; each box of the category above
``threshold`` becomes a segment, best first), ``features`` (``AutoModel`` of a ViT-style image encoder: DINOv2, CLIP's
vision tower; its patch tokens become the descriptor grid), and ``device``, ``dtype`` (``auto``: bfloat16 on a GPU,
float32 on the CPU), ``threshold`` (0.1). A source is ``hf-hub:<id>`` (the Hub, or its cache offline) or
``local-dir:<path>`` (a folder written by ``save_pretrained``), with an optional ``@<revision>`` after a Hub id.
Models load lazily, on first use, once per process (:func:`load_transformers_experts`); :meth:`TransformersExperts.
describe` records each model's id, revision and resolved snapshot for the results' manifest.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ModelSource", "TransformersExperts", "load_transformers_experts"]

#: The keys of an experts mapping.
EXPERT_KEYS = ("depth", "detector", "features", "device", "dtype", "threshold")


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


class TransformersExperts:
    """The experts of a mapping (module docstring); each model loads when first asked."""

    def __init__(
        self,
        depth: str | None = None,
        detector: str | None = None,
        features: str | None = None,
        device: str | None = None,
        dtype: str = "auto",
        threshold: float = 0.1,
    ) -> None:
        self.sources = {
            role: ModelSource.parse(text)
            for role, text in (("depth", depth), ("detector", detector), ("features", features))
            if text is not None
        }
        if not self.sources:
            raise ValueError("experts: name at least one of depth, detector, features")
        self.device_option, self.dtype_option, self.threshold = device, dtype, float(threshold)

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
    def _features(self) -> tuple[Any, Any]:
        return self._load("features", "AutoModel", "AutoImageProcessor")

    def _inputs(self, processor: Any, **kwargs: Any) -> Any:
        inputs = processor(return_tensors="pt", **kwargs).to(self.device)
        return {k: v.to(self.dtype) if v.is_floating_point() else v for k, v in inputs.items()}

    def edited_depth(self, edited: np.ndarray) -> np.ndarray | None:
        """Metric depth (m) of ``edited`` at its own size, or None without a depth model."""
        if "depth" not in self.sources:
            return None
        import torch

        processor, model = self._depth
        with torch.inference_mode():
            outputs = model(**self._inputs(processor, images=edited))
        depth = processor.post_process_depth_estimation(outputs, target_sizes=[edited.shape[:2]])[0]
        return depth["predicted_depth"].float().cpu().numpy()

    def segment(self, edited: np.ndarray, category: str) -> list[np.ndarray] | None:
        """The detector's boxes of ``category`` (scores above the threshold, best first) as filled masks, or None
        without a detector."""
        if "detector" not in self.sources:
            return None
        import torch

        processor, model = self._detector
        text = [[f"a photo of a {category.replace('_', ' ')}"]]
        with torch.inference_mode():
            outputs = model(**self._inputs(processor, text=text, images=edited))
        height, width = edited.shape[:2]
        found = processor.post_process_grounded_object_detection(
            outputs, threshold=self.threshold, target_sizes=[(height, width)]
        )[0]
        masks = []
        for index in np.argsort(-found["scores"].float().cpu().numpy()):
            x0, y0, x1, y1 = found["boxes"][index].float().cpu().numpy()
            mask = np.zeros((height, width), bool)
            mask[max(0, int(y0)) : min(height, int(np.ceil(y1))), max(0, int(x0)) : min(width, int(np.ceil(x1)))] = True
            if mask.any():
                masks.append(mask)
        return masks

    def features(self, image: np.ndarray) -> np.ndarray | None:
        """The patch tokens of ``image`` as a ``(rows, columns, C)`` grid, or None without a feature model."""
        if "features" not in self.sources:
            return None
        import torch

        processor, model = self._features
        inputs = self._inputs(processor, images=image)
        with torch.inference_mode():
            tokens = model(**inputs).last_hidden_state[0].float().cpu().numpy()
        rows, columns = (side // model.config.patch_size for side in inputs["pixel_values"].shape[-2:])
        return tokens[-rows * columns :].reshape(rows, columns, -1)  # the patch tokens follow CLS and registers

    def describe(self) -> dict[str, Any]:
        """Each model's source, id, revision and snapshot, and the device and dtype."""
        return {
            **{role: source.describe() for role, source in self.sources.items()},
            "device": self.device,
            "dtype": str(self.dtype).removeprefix("torch."),
            "threshold": self.threshold,
        }


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
