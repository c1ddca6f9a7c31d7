"""Image-editing diffusion pipelines as editors: ``--editor diffusers:MODEL`` (a Hub id or a local folder: a saved
pipeline, or the output of ``python -m gsi_bench.train``, whose LoRA is loaded onto the pretrained pipeline its
``training.json`` names).

Any ``diffusers.DiffusionPipeline`` that edits an image from an instruction works. The families differ in how they
are called (SPEC section 10), so :data:`CONVENTIONS` maps each pipeline class to its call: which argument takes the
image (``image`` or OmniGen's ``input_images``, alone or in a list), which knob is its guidance (``guidance_scale``,
or ``true_cfg_scale`` for Qwen-Image-Edit), its defaults, and the prompt template (OmniGen's image placeholder).
Every call uses keyword arguments only (InstructPix2Pix's positional order is ``prompt, image``, the opposite of
most). A pipeline class not in the table is called as ``pipe(image=..., prompt=...)`` and the manifest says so.

Each row gets its own seed, derived from the run's base seed and the sample id (:func:`sample_seed`), on a CPU
generator, so an output depends neither on the batch it ran in, nor on the process or device that ran it. Outputs
of another size than the source (FLUX.1 Kontext picks its own) are resized back to the source size, and the
per-sample notes record the size the model produced. :meth:`DiffusionEditor.describe` records the full
configuration (model and revision, pipeline class, dtype, device, steps, guidance, seed and resolution policies).

Options (``--editor-option KEY=VALUE``, :class:`DiffusionOptions`): ``steps``, ``guidance``, ``image_guidance``,
``negative_prompt``, ``seed``, ``dtype``, ``device``, ``revision``, ``variant``, ``resolution``, ``batch_size``,
``offload``, ``pipeline_kwargs``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from PIL import Image

from gsi_bench.editors import MODEL_COLUMNS, EditOutput
from gsi_datasets.images import row_image
from gsi_datasets.registry import options_of

__all__ = ["CONVENTIONS", "CallConvention", "DiffusionEditor", "DiffusionOptions", "sample_seed"]

#: Side lengths the ``resolution`` option rounds to (the latent patch size of current editors).
RESOLUTION_MULTIPLE = 16


@dataclass(frozen=True)
class CallConvention:
    """How one pipeline family is called.

    Attributes:
        image_argument: the keyword of the input image (``image``, or ``input_images`` for OmniGen).
        image_as_list: the image goes in a list (pipelines that take several reference images).
        guidance_argument: the keyword the ``guidance`` option sets.
        defaults: the family's keyword defaults (SPEC 10), overridden by the options.
        prompt_template: the prompt, from ``{instruction}``.
        batchable: several rows may go in one call (lists of prompts and images).
    """

    image_argument: str = "image"
    image_as_list: bool = False
    guidance_argument: str = "guidance_scale"
    defaults: Mapping[str, Any] = field(default_factory=dict)
    prompt_template: str = "{instruction}"
    batchable: bool = False


_QWEN = {"true_cfg_scale": 4.0, "num_inference_steps": 50, "negative_prompt": " "}
#: Call conventions by pipeline class name (SPEC section 10).
CONVENTIONS: dict[str, CallConvention] = {
    "QwenImageEditPipeline": CallConvention(guidance_argument="true_cfg_scale", defaults=_QWEN, batchable=True),
    "QwenImageEditPlusPipeline": CallConvention(image_as_list=True, guidance_argument="true_cfg_scale", defaults=_QWEN),
    "FluxKontextPipeline": CallConvention(
        defaults={"guidance_scale": 3.5, "num_inference_steps": 28, "max_area": 1024**2}, batchable=True
    ),
    "Flux2Pipeline": CallConvention(image_as_list=True, defaults={"guidance_scale": 4.0, "num_inference_steps": 50}),
    "Flux2KleinPipeline": CallConvention(
        image_as_list=True, defaults={"guidance_scale": 4.0, "num_inference_steps": 50}
    ),
    "LongCatImageEditPipeline": CallConvention(defaults={"guidance_scale": 4.5}),
    "StableDiffusionInstructPix2PixPipeline": CallConvention(
        defaults={"guidance_scale": 7.5, "image_guidance_scale": 1.5}, batchable=True
    ),
    "OmniGenPipeline": CallConvention(
        image_argument="input_images", image_as_list=True, prompt_template="<img><|image_1|></img> {instruction}"
    ),
    "GlmImagePipeline": CallConvention(),
    "BriaFiboEditPipeline": CallConvention(),
    "JoyImageEditPipeline": CallConvention(),
}
#: The call of a pipeline class not in :data:`CONVENTIONS`.
GENERIC_CONVENTION = CallConvention()


@dataclass(frozen=True)
class DiffusionOptions:
    """Options of a ``diffusers:`` editor (``--editor-option KEY=VALUE``).

    Attributes:
        steps: ``num_inference_steps`` (default: the family's, else the pipeline's).
        guidance: the family's guidance knob (``guidance_scale``; ``true_cfg_scale`` for Qwen-Image-Edit).
        image_guidance: ``image_guidance_scale`` (InstructPix2Pix).
        negative_prompt: the negative prompt, for pipelines that take one.
        seed: the base of the per-sample seeds (:func:`sample_seed`).
        dtype: ``auto`` (bfloat16 on a GPU, float32 on the CPU), ``float32``, ``float16`` or ``bfloat16``.
        device: where the pipeline runs (default: this process's ``accelerate`` device under ``accelerate launch``,
            else ``cuda`` when available, else ``cpu``).
        revision: the Hub revision (branch, tag or commit) of ``MODEL``.
        variant: the weights variant (``fp16``...).
        resolution: the longer side the source is resized to before the call (sides rounded to multiples of
            :data:`RESOLUTION_MULTIPLE`); None gives the pipeline the source as it is.
        batch_size: rows per pipeline call, for the families that take batches (others run row by row).
        offload: ``enable_model_cpu_offload()`` instead of moving the pipeline to the device.
        pipeline_kwargs: more keyword arguments of every call (e.g. ``{max_area: 1048576}``).
    """

    steps: int | None = None
    guidance: float | None = None
    image_guidance: float | None = None
    negative_prompt: str | None = None
    seed: int = 0
    dtype: str = "auto"
    device: str | None = None
    revision: str | None = None
    variant: str | None = None
    resolution: int | None = None
    batch_size: int = 1
    offload: bool = False
    pipeline_kwargs: Mapping[str, Any] = field(default_factory=dict)


def sample_seed(sample_id: str, base_seed: int = 0) -> int:
    """The seed of one row: the first 63 bits of SHA-256 of ``"<base_seed>:<sample_id>"``."""
    digest = hashlib.sha256(f"{base_seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def default_device() -> str:
    """This process's device: ``accelerate``'s under a multi-process launch, else ``cuda`` if present, else ``cpu``."""
    from gsi_bench.distributed import processes

    launched = processes().device
    if launched is not None:
        return launched
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def lora_base(folder: Path) -> str | None:
    """The pretrained pipeline a LoRA folder of ``python -m gsi_bench.train --method lora`` adapts (its
    ``training.json``), or None when ``folder`` is no such folder."""
    from gsi_bench.train import LORA_WEIGHTS, TRAINING_FILE

    record = folder / TRAINING_FILE
    if not (record.is_file() and (folder / LORA_WEIGHTS).is_file()):
        return None
    return json.loads(record.read_text()).get("pretrained")


def _require_diffusers() -> None:
    try:
        import diffusers  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "the diffusers: editor needs diffusers, transformers and torch: pip install 'gsi-bench[models]'"
        ) from error


@dataclass
class DiffusionEditor:
    """The ``diffusers:MODEL`` editor; the pipeline loads on first use (once per process)."""

    model: str
    options: DiffusionOptions = field(default_factory=DiffusionOptions)
    loaded: Any = field(default=None, repr=False)
    columns = MODEL_COLUMNS

    @classmethod
    def create(cls, model: str, options: Mapping[str, Any]) -> DiffusionEditor:
        """The editor of ``diffusers:MODEL`` with ``options``.

        Raises:
            ImportError: diffusers is not installed.
            ValueError: an unknown option, or a bad value of one.
            FileNotFoundError: ``model`` looks like a local path and does not exist.
        """
        _require_diffusers()
        parsed = options_of(DiffusionOptions, "editor 'diffusers'", options)
        if parsed.batch_size < 1:
            raise ValueError(f"diffusers option batch_size must be >= 1, got {parsed.batch_size}")
        if parsed.dtype not in ("auto", "float32", "float16", "bfloat16"):
            raise ValueError(f"diffusers option dtype must be auto, float32, float16 or bfloat16, got {parsed.dtype!r}")
        looks_local = model.startswith((".", "/", "~")) or model.count("/") != 1 or Path(model).exists()
        folder = Path(model).expanduser()
        if looks_local and not (folder / "model_index.json").is_file() and lora_base(folder) is None:
            raise FileNotFoundError(
                f"diffusers:{model}: no pipeline folder there (a folder with model_index.json, as save_pretrained "
                "writes, or a LoRA of `python -m gsi_bench.train`) and not a Hub id (owner/name)"
            )
        return cls(model, parsed)

    @classmethod
    def from_pipeline(cls, pipeline: Any, **options: Any) -> DiffusionEditor:
        """An editor around an already loaded pipeline (``gsi_bench.evaluate_editor(pipe, ...)``)."""
        name = getattr(getattr(pipeline, "config", None), "_name_or_path", None) or type(pipeline).__name__
        editor = cls(str(name), options_of(DiffusionOptions, "editor 'diffusers'", options), pipeline)
        editor.pipeline.set_progress_bar_config(disable=True)
        return editor

    @property
    def batch_size(self) -> int:
        return self.options.batch_size

    @cached_property
    def device(self) -> str:
        return self.options.device or default_device()

    @cached_property
    def dtype(self) -> str:
        if self.options.dtype != "auto":
            return self.options.dtype
        return "float32" if self.device.split(":")[0] == "cpu" else "bfloat16"

    @cached_property
    def lora_of(self) -> str | None:
        """The pretrained pipeline ``model`` adapts, when it is a LoRA folder of ``gsi_bench.train`` (else None)."""
        return lora_base(Path(self.model).expanduser())

    @cached_property
    def pipeline(self) -> Any:
        if self.loaded is not None:
            return self.loaded
        import torch
        from diffusers import DiffusionPipeline

        folder = Path(self.model).expanduser()
        base = self.lora_of
        pipeline = DiffusionPipeline.from_pretrained(
            base or (str(folder) if folder.exists() else self.model),
            dtype=getattr(torch, self.dtype),
            revision=self.options.revision,
            variant=self.options.variant,
        )
        if base is not None:
            pipeline.load_lora_weights(str(folder))
        if self.options.offload:
            pipeline.enable_model_cpu_offload(device=self.device)
        else:
            pipeline.to(self.device)
        pipeline.set_progress_bar_config(disable=True)
        return pipeline

    @property
    def convention(self) -> CallConvention:
        return CONVENTIONS.get(type(self.pipeline).__name__, GENERIC_CONVENTION)

    def _fixed_arguments(self) -> dict[str, Any]:
        """The keyword arguments every call gets: the family's defaults, then the options, then
        ``pipeline_kwargs``; only those the pipeline's ``__call__`` accepts (a generic class may lack some)."""
        convention, options = self.convention, self.options
        arguments = dict(convention.defaults)
        chosen = {
            "num_inference_steps": options.steps,
            convention.guidance_argument: options.guidance,
            "image_guidance_scale": options.image_guidance,
            "negative_prompt": options.negative_prompt,
        }
        arguments.update({key: value for key, value in chosen.items() if value is not None})
        accepted = inspect.signature(self.pipeline.__call__).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
        arguments = {key: value for key, value in arguments.items() if takes_any or key in accepted}
        return {**arguments, **dict(options.pipeline_kwargs)}

    def _model_input(self, image: Image.Image) -> Image.Image:
        """The source as the pipeline gets it: RGB, resized to the ``resolution`` option when set."""
        image = image.convert("RGB")
        if self.options.resolution is None:
            return image
        scale = self.options.resolution / max(image.size)
        size = tuple(max(RESOLUTION_MULTIPLE, round(side * scale / RESOLUTION_MULTIPLE) * RESOLUTION_MULTIPLE)
                     for side in image.size)  # fmt: skip
        return image.resize(size, Image.Resampling.LANCZOS)

    def _call(self, images: Sequence[Image.Image], instructions: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        import torch

        convention = self.convention
        prompts = [convention.prompt_template.format(instruction=text) for text in instructions]
        inputs = [[image] if convention.image_as_list else image for image in images]
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        single = len(images) == 1
        arguments = {
            **self._fixed_arguments(),
            "prompt": prompts[0] if single else prompts,
            convention.image_argument: inputs[0] if single else inputs,
            "generator": generators[0] if single else generators,
        }
        if "negative_prompt" in arguments and not single:
            arguments["negative_prompt"] = [arguments["negative_prompt"]] * len(images)
        return list(self.pipeline(**arguments).images)

    def edit_batch(self, rows: Sequence[Mapping[str, Any]]) -> list[EditOutput]:
        """The edits of ``rows``: in one call when the family takes batches, else one call per row."""
        sources = [row_image(row["source_image"], "source_image") for row in rows]
        seeds = [sample_seed(str(row["sample_id"]), self.options.seed) for row in rows]
        inputs = [self._model_input(source) for source in sources]
        instructions = [str(row["instruction"]) for row in rows]
        if self.convention.batchable and len(rows) > 1:
            outputs = self._call(inputs, instructions, seeds)
        else:
            outputs = [self._call([i], [t], [s])[0] for i, t, s in zip(inputs, instructions, seeds, strict=True)]
        return [
            self._back_to_source(output, source, seed)
            for output, source, seed in zip(outputs, sources, seeds, strict=True)
        ]

    def __call__(self, row: Mapping[str, Any]) -> EditOutput:
        return self.edit_batch([row])[0]

    @staticmethod
    def _back_to_source(output: Any, source: Image.Image, seed: int) -> EditOutput:
        notes: dict[str, Any] = {"seed": seed}
        if isinstance(output, Image.Image):
            notes["output_size"] = list(output.size)
            if output.size != source.size:
                output = output.convert("RGB").resize(source.size, Image.Resampling.BICUBIC)
                notes["resized_to_source"] = list(source.size)
        return EditOutput(output, notes)

    def describe(self) -> dict[str, Any]:
        """Model, revision, pipeline class and call convention, dtype, device, the call's fixed arguments, and the
        seed and resolution policies."""
        pipeline = self.pipeline
        name = type(pipeline).__name__
        snapshot = re.search(r"snapshots/([0-9a-f]{40})", str(getattr(pipeline.config, "_name_or_path", "")))
        resolution = self.options.resolution
        return {
            "model": self.model,
            "lora_of": self.lora_of,
            "revision": self.options.revision,
            "snapshot": snapshot.group(1) if snapshot else None,
            "pipeline_class": name,
            "convention": name if name in CONVENTIONS else "generic (image=, prompt=)",
            "dtype": self.dtype,
            "device": self.device,
            "call_arguments": self._fixed_arguments(),
            "prompt_template": self.convention.prompt_template,
            "seed_policy": f"per sample: sha256('{self.options.seed}:<sample_id>'), first 63 bits, CPU generator",
            "resolution_policy": (
                "the source as it is" if resolution is None
                else f"source resized to a longer side of {resolution} (multiples of {RESOLUTION_MULTIPLE})"
            ) + "; outputs of another size resized back to the source size (bicubic)",
            "batch_size": self.options.batch_size if self.convention.batchable else 1,
            "options": {k: v for k, v in asdict(self.options).items() if v not in (None, {})},
        }  # fmt: skip
