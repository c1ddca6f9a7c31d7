"""Tiny randomly initialised models built from configs and saved with ``save_pretrained``, for the model tests.

No weights can be downloaded here, so every learned component of the tests is built from a config with a fixed seed
and loaded back with ``from_pretrained(local_dir)``, as a user's real checkpoint would be.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

#: Blocks of the trainable pipeline's VAE (3: it down-samples by 4).
VAE_BLOCKS = 3

#: The tiny CLIP tokenizer's alphabet: each letter is a word piece, with and without the end-of-word mark.
_LETTERS = [chr(code) for code in range(ord("a"), ord("z") + 1)]


def _tiny_clip_text(folder: Path, hidden_size: int = 16) -> tuple:
    """A letter-level ``CLIPTokenizer`` (its files in ``folder/tokenizer_source``) and a 1-layer ``CLIPTextModel``."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocabulary = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for letter in _LETTERS:
        vocabulary[letter] = len(vocabulary)
        vocabulary[f"{letter}</w>"] = len(vocabulary)
    tokenizer_files = folder / "tokenizer_source"
    tokenizer_files.mkdir(parents=True, exist_ok=True)
    (tokenizer_files / "vocab.json").write_text(json.dumps(vocabulary))
    (tokenizer_files / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(tokenizer_files / "vocab.json"), str(tokenizer_files / "merges.txt"), model_max_length=77
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(vocabulary), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
            num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1,
            pad_token_id=1, projection_dim=hidden_size,
        )
    )  # fmt: skip
    return tokenizer, text_encoder


def tiny_instruct_pix2pix(folder: Path, seed: int = 0) -> Path:
    """A tiny ``StableDiffusionInstructPix2PixPipeline`` (a few hundred kB) saved in ``folder``; returns it.

    The VAE downsamples by 8 like the real one (4 blocks), so a 512 x 512 source makes a 64 x 64 latent.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(seed)
    tokenizer, text_encoder = _tiny_clip_text(folder)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=8, out_channels=4, layers_per_block=1, block_out_channels=(8, 16),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=2, norm_num_groups=4,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(4, 4, 4, 4), latent_channels=4,
        norm_num_groups=2, sample_size=64, layers_per_block=1,
    )  # fmt: skip
    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=EulerAncestralDiscreteScheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipeline.save_pretrained(folder)
    return folder


def tiny_trainable_instruct_pix2pix(
    folder: Path, images: list, resolution: int = 64, vae_steps: int = 500, seed: int = 0
) -> Path:
    """A small ``StableDiffusionInstructPix2PixPipeline`` to fine-tune on the CPU, saved in ``folder``; returns it.

    There are no pretrained weights here, and a random VAE decodes any latent to noise, so no denoiser could ever
    show progress through it. The stand-in for a pretrained editor is therefore a VAE (:data:`VAE_BLOCKS`) first
    trained to reconstruct ``images`` (PIL, at ``resolution``) for ``vae_steps`` steps, with a random UNet large
    enough to learn a few edits and a random 1-layer CLIP text encoder. Fine-tuning then trains the UNet only. The
    scheduler (DDIM) has the UNet predict the clean latents, which a small UNet learns in a few hundred steps.
    """
    import numpy as np
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(seed)
    tokenizer, text_encoder = _tiny_clip_text(folder, hidden_size=32)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * VAE_BLOCKS,
        up_block_types=("UpDecoderBlock2D",) * VAE_BLOCKS, block_out_channels=(16,) * VAE_BLOCKS, latent_channels=4,
        norm_num_groups=4, sample_size=resolution, layers_per_block=1,
    )  # fmt: skip
    pixels = torch.stack([
        torch.from_numpy(np.asarray(image.convert("RGB").resize((resolution, resolution)), dtype=np.float32).copy())
        for image in images or [Image.new("RGB", (resolution, resolution))]
    ]).permute(0, 3, 1, 2) / 127.5 - 1.0  # fmt: skip
    optimizer = torch.optim.AdamW(vae.parameters(), lr=2e-3)
    for _ in range(vae_steps if images else 0):
        batch = pixels[torch.randint(0, len(pixels), (8,))]
        posterior = vae.encode(batch).latent_dist
        loss = torch.nn.functional.mse_loss(vae.decode(posterior.sample()).sample, batch) + 1e-6 * posterior.kl().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if images:  # latents of unit variance, as a pretrained VAE's scaling factor gives
        with torch.no_grad():
            vae.register_to_config(scaling_factor=float(1.0 / vae.encode(pixels).latent_dist.mode().std()))
    unet = UNet2DConditionModel(
        sample_size=resolution // 2 ** (VAE_BLOCKS - 1), in_channels=8, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
    )  # fmt: skip
    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=vae.eval(), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(prediction_type="sample", clip_sample=False), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipeline.save_pretrained(folder)
    return folder


#: The tiny judge's chat template: "role : content" lines, an image as its placeholder token.
_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }} :{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %} <image>{% else %} {{ item['text'] }}{% endif %}{% endfor %}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant :{% endif %}"
)


def tiny_llava(folder: Path, seed: int = 0) -> Path:
    """A tiny ``LlavaForConditionalGeneration`` with its processor (a word-level tokenizer, a 32-px CLIP image
    processor, a chat template) saved in ``folder``, loadable with ``AutoModelForImageTextToText``; returns it."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    torch.manual_seed(seed)
    words = ["<unk>", "<pad>", "<s>", "</s>", "<image>", ":", "{", "}", '"score"', "||V^=^V||", *map(str, range(11))]
    vocabulary = {word: index for index, word in enumerate([*words, *_LETTERS])}
    word_level = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=word_level, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>",
        extra_special_tokens={"image_token": "<image>"},
    )  # fmt: skip
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=8, vision_feature_select_strategy="default",
        chat_template=_CHAT_TEMPLATE, num_additional_image_tokens=1,
    )  # fmt: skip
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32,
            patch_size=8, projection_dim=16,
        ),
        text_config=LlamaConfig(
            vocab_size=len(vocabulary), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512, pad_token_id=1, bos_token_id=2,
            eos_token_id=3,
        ),
        image_token_index=vocabulary["<image>"], vision_feature_select_strategy="default", vision_feature_layer=-1,
    )  # fmt: skip
    LlavaForConditionalGeneration(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def tiny_depth_anything(folder: Path, seed: int = 0) -> Path:
    """A tiny metric ``DepthAnythingForDepthEstimation`` (a 2-layer DINOv2 backbone) and its image processor (56 px),
    saved in ``folder``; loadable with ``AutoModelForDepthEstimation``."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(seed)
    backbone = Dinov2Config(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, image_size=56, patch_size=14,
        out_features=["stage1", "stage2"], reshape_hidden_states=False,
    )  # fmt: skip
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=16, patch_size=14, neck_hidden_sizes=[8, 16],
        fusion_hidden_size=16, head_hidden_size=8, reassemble_factors=[4, 2], depth_estimation_type="metric",
        max_depth=10,
    )  # fmt: skip
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=False, do_pad=False).save_pretrained(folder)
    return folder


def tiny_owlvit(folder: Path, seed: int = 0) -> Path:
    """A tiny ``OwlViTForObjectDetection`` with its processor (a letter-level CLIP tokenizer, 64-px images), saved in
    ``folder``; loadable with ``AutoModelForZeroShotObjectDetection``."""
    import torch
    from transformers import (
        CLIPTokenizer,
        OwlViTConfig,
        OwlViTForObjectDetection,
        OwlViTImageProcessor,
        OwlViTProcessor,
    )

    torch.manual_seed(seed)
    vocabulary = {"!": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}  # OWL-ViT drops queries that start with id 0
    for letter in _LETTERS:
        vocabulary[letter] = len(vocabulary)
        vocabulary[f"{letter}</w>"] = len(vocabulary)
    files = folder / "tokenizer_source"
    files.mkdir(parents=True, exist_ok=True)
    (files / "vocab.json").write_text(json.dumps(vocabulary))
    (files / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(files / "vocab.json"), str(files / "merges.txt"), model_max_length=64, pad_token="!")
    config = OwlViTConfig(
        text_config={"vocab_size": len(vocabulary), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "max_position_embeddings": 64, "bos_token_id": 1, "eos_token_id": 2,
                     "pad_token_id": 0},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 64, "patch_size": 16},
        projection_dim=16,
    )  # fmt: skip
    OwlViTForObjectDetection(config).save_pretrained(folder)
    images = OwlViTImageProcessor(size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64})
    OwlViTProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def tiny_dinov2(folder: Path, seed: int = 0) -> Path:
    """A tiny ``Dinov2Model`` (56-px images, 14-px patches: a 4 x 4 grid) and its image processor, saved in
    ``folder``; loadable with ``AutoModel``."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    config = Dinov2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=56, patch_size=14
    )
    Dinov2Model(config).save_pretrained(folder)
    BitImageProcessor(size={"shortest_edge": 56}, crop_size={"height": 56, "width": 56}).save_pretrained(folder)
    return folder


def tiny_sam(folder: Path, seed: int = 0) -> Path:
    """A tiny ``SamModel`` (64-px images, 16-px patches, 16-px masks) and its processor, saved in ``folder``; loadable
    with ``AutoModelForMaskGeneration``."""
    import torch
    from transformers import SamConfig, SamImageProcessorPil, SamModel, SamProcessor  # the PIL one: no torchvision

    torch.manual_seed(seed)
    config = SamConfig(
        vision_config={"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "mlp_dim": 32,
                       "image_size": 64, "patch_size": 16, "output_channels": 16, "global_attn_indexes": [1],
                       "window_size": 2, "num_pos_feats": 8},
        prompt_encoder_config={"hidden_size": 16, "image_size": 64, "patch_size": 16, "mask_input_channels": 4},
        mask_decoder_config={"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "mlp_dim": 32,
                             "iou_head_hidden_dim": 16},
    )  # fmt: skip
    SamModel(config).save_pretrained(folder)
    images = SamImageProcessorPil(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64},
        mask_size={"longest_edge": 16}, mask_pad_size={"height": 16, "width": 16},
    )  # fmt: skip
    SamProcessor(image_processor=images).save_pretrained(folder)
    return folder


def tiny_flux_kontext(folder: Path, seed: int = 0) -> Path:
    """A tiny ``FluxKontextPipeline`` (2 + 1 transformer blocks, a letter-level CLIP and T5, a 2-block VAE), saved in
    ``folder``; returns it."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxKontextPipeline, FluxTransformer2DModel
    from transformers import T5Config, T5EncoderModel, T5TokenizerFast

    torch.manual_seed(seed)
    tokenizer, text_encoder = _tiny_clip_text(folder, hidden_size=32)
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -1.0)] + [(letter, -2.0) for letter in _LETTERS]
    tokenizer_2 = T5TokenizerFast(vocab=pieces, extra_ids=0, unk_id=2)
    text_encoder_2 = T5EncoderModel(T5Config(
        vocab_size=len(pieces), d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4,
        relative_attention_num_buckets=8,
    ))  # fmt: skip
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=32, pooled_projection_dim=32, guidance_embeds=True, axes_dims_rope=(4, 2, 2),
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 8), latent_channels=4, norm_num_groups=2,
        sample_size=32, layers_per_block=1, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.06,
        scaling_factor=1.5,
    )  # fmt: skip
    pipeline = FluxKontextPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2, transformer=transformer,
    )  # fmt: skip
    pipeline.save_pretrained(folder)
    return folder
