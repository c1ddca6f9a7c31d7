"""How each image-editing family is trained: which component is the denoiser, what its LoRA adapts, and the loss of
one batch of (source image, instruction, target image) triples.

- :class:`InstructPix2Pix` (``StableDiffusionInstructPix2PixPipeline``): the UNet denoises the target's latents with
  the source's latents concatenated along the channels (unscaled, as the pipeline conditions on them), predicting
  the noise, the velocity or the clean latents as the scheduler's config says; conditioning dropout (no
  instruction, no source, neither) as in the InstructPix2Pix paper, so classifier-free guidance on both works
  after training.
- :class:`FluxKontext` (``FluxKontextPipeline``): flow matching; the transformer sees the noisy target's packed latents
  followed by the source's (their position ids marked 1 in the first axis, as the pipeline does), and predicts the
  velocity ``noise - target`` on the target's part only.

A family is picked by the pipeline's class name (:func:`family_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["FAMILIES", "FluxKontext", "InstructPix2Pix", "TrainingFamily", "family_of"]


@dataclass
class TrainingFamily:
    """One pipeline family's training.

    Attributes:
        pipeline_classes: the ``diffusers`` pipeline classes it trains (by name).
        denoiser: the pipeline component that is trained (``unet`` or ``transformer``).
        lora_targets: the modules a LoRA adapts (attention projections).
    """

    pipeline_classes: ClassVar[tuple[str, ...]] = ()
    denoiser: ClassVar[str] = ""
    lora_targets: ClassVar[tuple[str, ...]] = ()

    def prepare(self, pipeline: Any) -> None:
        """Sets up what the loss needs from the pipeline (its training noise scheduler)."""

    def loss(self, pipeline: Any, denoiser: Any, batch: dict[str, Any], generator: Any) -> Any:
        """The batch's loss (a scalar tensor); ``denoiser`` is the (possibly wrapped) trained component, and every
        random draw (the VAE's posterior, noise, noise levels, dropout) comes from ``generator``, so a resumed run
        draws what an uninterrupted one would."""
        raise NotImplementedError


def _normal(like: Any, generator: Any) -> Any:
    import torch

    return torch.randn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


def _mse(prediction: Any, target: Any) -> Any:
    import torch.nn.functional as F

    return F.mse_loss(prediction.float(), target.float())


#: What an InstructPix2Pix UNet may predict (its scheduler's ``prediction_type``): the noise, the velocity, or the
#: clean latents.
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


@dataclass
class InstructPix2Pix(TrainingFamily):
    """InstructPix2Pix: noise prediction on the target's latents, conditioned on the source's.

    Attributes:
        conditioning_dropout: the probability of dropping the instruction, of dropping the source, and of dropping
            both (each; the paper's 0.05).
    """

    pipeline_classes: ClassVar[tuple[str, ...]] = ("StableDiffusionInstructPix2PixPipeline",)
    denoiser: ClassVar[str] = "unet"
    lora_targets: ClassVar[tuple[str, ...]] = ("to_q", "to_k", "to_v", "to_out.0")
    conditioning_dropout: float = 0.05
    noise_scheduler: Any = None

    def prepare(self, pipeline: Any) -> None:
        from diffusers import DDPMScheduler

        self.noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)

    def _instruction_embeddings(self, pipeline: Any, instructions: list[str]) -> Any:
        tokenizer = pipeline.tokenizer
        ids = tokenizer(
            instructions, max_length=tokenizer.model_max_length, padding="max_length", truncation=True,
            return_tensors="pt",
        ).input_ids  # fmt: skip
        return pipeline.text_encoder(ids.to(pipeline.text_encoder.device))[0]

    def loss(self, pipeline: Any, denoiser: Any, batch: dict[str, Any], generator: Any) -> Any:
        import torch

        vae, scheduler = pipeline.vae, self.noise_scheduler
        sources = batch["source"].to(vae.device, vae.dtype)
        targets = batch["target"].to(vae.device, vae.dtype)
        with torch.no_grad():
            latents = vae.encode(targets).latent_dist.sample(generator) * vae.config.scaling_factor
            source_latents = vae.encode(sources).latent_dist.mode()
            text = self._instruction_embeddings(pipeline, list(batch["instruction"]))
            empty = self._instruction_embeddings(pipeline, [""]).expand_as(text)
        count = latents.shape[0]
        noise = _normal(latents, generator)
        steps = torch.randint(0, scheduler.config.num_train_timesteps, (count,), generator=generator,
                              device=latents.device).long()  # fmt: skip
        noisy = scheduler.add_noise(latents, noise, steps)
        draw = torch.rand(count, generator=generator, device=latents.device)
        drop_text = draw < 2 * self.conditioning_dropout  # text alone, or both
        drop_source = (draw >= self.conditioning_dropout) & (draw < 3 * self.conditioning_dropout)  # source alone, both
        text = torch.where(drop_text[:, None, None], empty, text)
        source_latents = source_latents * (~drop_source)[:, None, None, None].to(source_latents.dtype)
        model_input = torch.cat([noisy, source_latents], dim=1)
        prediction = denoiser(model_input, steps, text, return_dict=False)[0]
        kind = scheduler.config.prediction_type
        if kind not in PREDICTION_TYPES:
            raise ValueError(f"cannot train a {kind!r}-predicting UNet; the scheduler must predict {PREDICTION_TYPES}")
        goal = {"epsilon": noise, "sample": latents}.get(kind)
        if goal is None:
            goal = scheduler.get_velocity(latents, noise, steps)
        return _mse(prediction, goal)


@dataclass
class FluxKontext(TrainingFamily):
    """FLUX.1 Kontext: flow matching on the target's packed latents, the source's packed latents appended.

    Attributes:
        guidance_scale: the distilled guidance the transformer is given (the pipeline's default, 3.5).
        max_sequence_length: the T5 prompt length.
    """

    pipeline_classes: ClassVar[tuple[str, ...]] = ("FluxKontextPipeline",)
    denoiser: ClassVar[str] = "transformer"
    lora_targets: ClassVar[tuple[str, ...]] = (
        "to_q", "to_k", "to_v", "to_out.0", "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out",
    )  # fmt: skip
    guidance_scale: float = 3.5
    max_sequence_length: int = 512
    noise_scheduler: Any = None

    def prepare(self, pipeline: Any) -> None:
        from diffusers import FlowMatchEulerDiscreteScheduler

        self.noise_scheduler = FlowMatchEulerDiscreteScheduler.from_config(pipeline.scheduler.config)

    def _latents(self, pipeline: Any, images: Any, generator: Any = None) -> Any:
        """Scaled latents: sampled from the posterior with ``generator``, its mode without one."""
        vae = pipeline.vae
        encoded = vae.encode(images.to(vae.device, vae.dtype)).latent_dist
        latents = encoded.sample(generator) if generator is not None else encoded.mode()
        return (latents - vae.config.shift_factor) * vae.config.scaling_factor

    def loss(self, pipeline: Any, denoiser: Any, batch: dict[str, Any], generator: Any) -> Any:
        import torch

        scheduler = self.noise_scheduler
        with torch.no_grad():
            latents = self._latents(pipeline, batch["target"], generator)
            source_latents = self._latents(pipeline, batch["source"])
            prompt, pooled, text_ids = pipeline.encode_prompt(
                prompt=list(batch["instruction"]), prompt_2=None, device=latents.device,
                max_sequence_length=self.max_sequence_length,
            )  # fmt: skip
        count, channels, height, width = latents.shape
        noise = _normal(latents, generator)
        indices = torch.randint(0, len(scheduler.timesteps), (count,), generator=generator, device=generator.device)
        indices = indices.cpu()
        sigmas = scheduler.sigmas[indices].to(latents.device, latents.dtype)[:, None, None, None]
        timesteps = scheduler.timesteps[indices].to(latents.device, latents.dtype)
        noisy = (1.0 - sigmas) * latents + sigmas * noise
        packed = pipeline._pack_latents(noisy, count, channels, height, width)
        packed_source = pipeline._pack_latents(source_latents, count, channels, height, width)
        target_ids = pipeline._prepare_latent_image_ids(count, height // 2, width // 2, latents.device, latents.dtype)
        source_ids = target_ids.clone()
        source_ids[..., 0] = 1
        guidance = None
        if getattr(pipeline.transformer.config, "guidance_embeds", False):
            guidance = torch.full((count,), self.guidance_scale, device=latents.device, dtype=latents.dtype)
        prediction = denoiser(
            hidden_states=torch.cat([packed, packed_source], dim=1), timestep=timesteps / 1000, guidance=guidance,
            pooled_projections=pooled, encoder_hidden_states=prompt, txt_ids=text_ids,
            img_ids=torch.cat([target_ids, source_ids], dim=0), return_dict=False,
        )[0][:, : packed.shape[1]]  # fmt: skip
        scale = pipeline.vae_scale_factor
        prediction = pipeline._unpack_latents(prediction, height * scale, width * scale, scale)
        return _mse(prediction, noise - latents)


#: The families, in the order :func:`family_of` tries them.
FAMILIES: tuple[type[TrainingFamily], ...] = (InstructPix2Pix, FluxKontext)


def family_of(pipeline: Any) -> TrainingFamily:
    """The training family of a loaded pipeline, by its class name.

    Raises:
        ValueError: no family trains this pipeline class (the message lists those that do).
    """
    name = type(pipeline).__name__
    for family in FAMILIES:
        if name in family.pipeline_classes:
            return family()
    known = ", ".join(name for family in FAMILIES for name in family.pipeline_classes)
    raise ValueError(f"gsi_bench.train cannot train a {name}; it trains {known}")
