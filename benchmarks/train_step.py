"""Time per training step and peak memory of the fine-tuning recipe's loss (gsi_bench.train.families), for pipelines
built from configs (random weights: the cost of a step does not depend on them).

    python benchmarks/train_step.py --preset tiny --method full --resolution 64 --batch-size 8
    python benchmarks/train_step.py --preset sd15 --method lora --resolution 512 --batch-size 4 --precision bf16

Presets: ``tiny`` (the test suite's trainable InstructPix2Pix, without its VAE pre-training) and ``sd15``
(InstructPix2Pix at Stable Diffusion 1.5's size: the UNet of 860M parameters with 8 input channels, a CLIP ViT-L
text encoder and the SD VAE). Batches are random images and fixed instructions, so no dataset is needed; the data
loader's cost is not included. Prints the machine, the parameters trained, seconds per optimizer step (median of the
timed steps after warm-up) and peak memory (the GPU's allocator, or the process's peak RSS on the CPU).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sd15_pipeline(folder: Path, dtype) -> object:
    """InstructPix2Pix with SD 1.5's component sizes, random weights."""
    from diffusers import (
        AutoencoderKL,
        DDPMScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.tiny_models import _tiny_clip_text

    tokenizer, _ = _tiny_clip_text(folder)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
        max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1, projection_dim=768,
    ))  # fmt: skip
    unet = UNet2DConditionModel(in_channels=8, out_channels=4, cross_attention_dim=768, sample_size=64)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512), latent_channels=4, layers_per_block=2, sample_size=512,
    )  # fmt: skip
    return StableDiffusionInstructPix2PixPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=DDPMScheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    ).to(dtype=dtype)  # fmt: skip


def _tiny_pipeline(folder: Path, dtype) -> object:
    from diffusers import DiffusionPipeline

    from tests.tiny_models import tiny_trainable_instruct_pix2pix

    return DiffusionPipeline.from_pretrained(str(tiny_trainable_instruct_pix2pix(folder, [], vae_steps=0)), dtype=dtype)


def main() -> None:
    import tempfile

    import torch

    from gsi_bench.train import trainable_denoiser
    from gsi_bench.train.families import family_of

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=["tiny", "sd15"], default="tiny")
    parser.add_argument("--method", choices=["lora", "full"], default="lora")
    parser.add_argument("--lora-rank", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    args = parser.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    with tempfile.TemporaryDirectory() as folder:
        build = _sd15_pipeline if args.preset == "sd15" else _tiny_pipeline
        pipeline = build(Path(folder), dtype).to(device)
    family = family_of(pipeline)
    family.prepare(pipeline)
    denoiser = trainable_denoiser(pipeline, family, args.method, args.lora_rank, None, args.gradient_checkpointing)
    trainable = [parameter for parameter in denoiser.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-5)
    size = (args.batch_size, 3, args.resolution, args.resolution)
    batch = {
        "source": torch.rand(size, device=device) * 2 - 1,
        "target": torch.rand(size, device=device) * 2 - 1,
        "instruction": ["move the mug twenty centimetres to the left"] * args.batch_size,
    }
    generator = torch.Generator(device).manual_seed(0)
    times = []
    for step in range(args.steps + 2):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.autocast(device, dtype=dtype, enabled=args.precision == "bf16"):
            loss = family.loss(pipeline, denoiser, batch, generator)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= 2:
            times.append(time.perf_counter() - started)
    if device == "cuda":
        memory = f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB ({torch.cuda.get_device_name()})"
    else:
        memory = f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    print(f"machine: {os.cpu_count()} cores, {device}; preset {args.preset}, {args.method}, {args.precision}, "
          f"{args.resolution} px, batch {args.batch_size}, gradient checkpointing "
          f"{args.gradient_checkpointing}")  # fmt: skip
    print(f"trained parameters: {sum(p.numel() for p in trainable) / 1e6:.2f} M of "
          f"{sum(p.numel() for p in denoiser.parameters()) / 1e6:.2f} M in the {family.denoiser}")  # fmt: skip
    print(f"seconds per step: median {statistics.median(times):.3f} over {len(times)} steps; {memory}; "
          f"last loss {loss.item():.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
