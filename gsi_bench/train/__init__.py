"""Fine-tune an image editor on GSI-Syn, with the benchmark in the loop.

::

    accelerate launch -m gsi_bench.train --pretrained timbrooks/instruct-pix2pix --data gsi-bench/syn \\
        --configs tabletop room --method lora --output runs/ip2p-lora

The denoiser of an image-editing pipeline (:mod:`gsi_bench.train.families`: InstructPix2Pix's UNet, FLUX.1 Kontext's
transformer) learns from (source image, instruction, target image) triples of any GSI-Syn config mix
(:mod:`gsi_bench.train.data`); the VAE and the text encoders stay frozen. ``--method lora`` trains a LoRA of the
attention projections (``peft``), ``--method full`` every weight of the denoiser.

What a run writes in ``--output``:

- ``checkpoints/checkpoint-<step>/`` every ``--checkpointing-steps``: the trained weights (the LoRA's alone, or the
  whole denoiser), the optimizer, the learning-rate schedule and every process's random state
  (``accelerate.Accelerator.save_state``); ``--resume-from-checkpoint latest`` continues from the newest, on any
  number of processes.
- ``train_log.jsonl``: one line per optimizer step (step, loss averaged over processes and accumulation, learning
  rate, seconds); the same figures go to the tracker ``--report-to`` names (tensorboard by default, in ``logs/``).
- ``validation/step-<step>/`` every ``--validation-steps`` (and at the end): ``gsi-bench eval`` results of the
  current weights on ``--validation-limit`` rows of the validation split, edited in-process (every process edits
  and scores its share); IC / SA / EL / AC go
  to the tracker and to ``validation.jsonl``, with the share of rows whose target was found, and EL over all rows
  (SSIM, and PSNR in dB, outside the edit; the benchmark's means count a row without its target as 0, so early on
  these are what move). A fresh
  run validates the pretrained weights first (step 0), the figures to compare with.
- at the end, weights ``diffusers:<output>`` loads as an editor: the whole pipeline (``--method full``), or the LoRA
  (``pytorch_lora_weights.safetensors``) with ``gsi_training.json`` naming the pretrained pipeline it adapts.
  ``gsi_training.json`` records the run either way (arguments, family, steps, time, library versions).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TRAINING_FILE", "TrainingArguments", "main", "parse_arguments", "train", "trainable_denoiser"]

#: The run's record in the output folder; for a LoRA also what ``diffusers:<output>`` reads to find the base.
TRAINING_FILE = "training.json"
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"
#: A checkpoint folder's record of its step (written last: a folder without it is no checkpoint).
STEP_FILE = "training_step.json"
CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")


@dataclass
class TrainingArguments:
    """The arguments of a training run (``python -m gsi_bench.train --help`` describes each)."""

    pretrained: str
    data: str
    output: str
    configs: list[str] = field(default_factory=lambda: ["tabletop"])
    split: str = "train"
    operations: list[str] | None = None
    max_train_samples: int | None = None
    method: str = "lora"
    lora_rank: int = 16
    lora_alpha: float | None = None
    resolution: int = 512
    augment: bool = False
    train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_train_steps: int = 1000
    learning_rate: float = 1e-4
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 0
    max_grad_norm: float = 1.0
    mixed_precision: str | None = None
    gradient_checkpointing: bool = False
    seed: int = 0
    checkpointing_steps: int = 500
    checkpoints_total_limit: int | None = None
    resume_from_checkpoint: str | None = None
    validation_data: str | None = None
    validation_config: str | None = None
    validation_split: str = "validation"
    validation_limit: int = 16
    validation_steps: int | None = None
    validation_inference_steps: int = 20
    validation_workers: int = 1
    report_to: str = "tensorboard"
    quiet: bool = False

    def __post_init__(self) -> None:
        self.validation_config = self.validation_config or self.configs[0]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gsi_bench.train",
        description="Fine-tune an image-editing pipeline's denoiser on GSI-Syn (run it with `accelerate launch -m "
        "gsi_bench.train ...` for several processes or GPUs).",
    )
    add = parser.add_argument
    add("--pretrained", required=True, help="the pipeline to fine-tune: a Hub id or a save_pretrained folder")
    add("--data", required=True, help="GSI-Syn dataset folder or Hub id")
    add("--output", required=True, help="run folder: checkpoints, logs, validation results and the final weights")
    add("--configs", nargs="+", default=["tabletop"], help="configs to mix (default: tabletop)")
    add("--split", default="train", help="training split (default: train)")
    add("--operations", nargs="+", help="only these operations (default: all of the configs')")
    add("--max-train-samples", type=int, help="only the first N rows of the mix")
    add("--method", choices=["lora", "full"], default="lora", help="a LoRA (default) or every denoiser weight")
    add("--lora-rank", type=int, default=16, help="LoRA rank (default: 16)")
    add("--lora-alpha", type=float, help="LoRA alpha (default: the rank)")
    add("--resolution", type=int, default=512, help="longer side of the training images (default: 512)")
    add("--augment", action="store_true", help="the same photometric jitter on source and target")
    add("--train-batch-size", type=int, default=4, help="rows per process and step (default: 4)")
    add("--gradient-accumulation-steps", type=int, default=1, help="batches per optimizer step (default: 1)")
    add("--max-train-steps", type=int, default=1000, help="optimizer steps (default: 1000)")
    add("--learning-rate", type=float, default=1e-4, help="AdamW learning rate (default: 1e-4)")
    add("--lr-scheduler", default="constant", help="diffusers.optimization schedule (default: constant)")
    add("--lr-warmup-steps", type=int, default=0, help="warm-up steps (default: 0)")
    add("--max-grad-norm", type=float, default=1.0, help="gradient clipping norm (default: 1.0)")
    add("--mixed-precision", choices=["no", "fp16", "bf16"], help="default: the accelerate config's")
    add("--gradient-checkpointing", action="store_true", help="trade compute for activation memory")
    add("--seed", type=int, default=0, help="seed of the weights' noise, the order and the dropout (default: 0)")
    add("--checkpointing-steps", type=int, default=500, help="save a resumable checkpoint every N steps")
    add("--checkpoints-total-limit", type=int, help="keep only the newest N checkpoints")
    add("--resume-from-checkpoint", help="`latest` or a checkpoint folder")
    add("--validation-data", help="dataset of the validation split (default: --data)")
    add("--validation-config", help="config of the validation split (default: the first of --configs)")
    add("--validation-split", default="validation", help="default: validation")
    add("--validation-limit", type=int, default=16, help="rows edited and scored per validation (default: 16)")
    add("--validation-steps", type=int, help="validate every N steps (default: only at the end)")
    add("--validation-inference-steps", type=int, default=20, help="denoising steps of the validation edits")
    add("--validation-workers", type=int, default=1, help="scoring processes of a validation (default: 1)")
    add("--no-validation", dest="validation_limit", action="store_const", const=0, help="skip validation")
    add("--report-to", default="tensorboard", help="accelerate tracker: tensorboard (default), wandb, all or none")
    add("--quiet", action="store_true", help="no progress bar")
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> TrainingArguments:
    """The :class:`TrainingArguments` of a command line."""
    arguments = TrainingArguments(**vars(_parser().parse_args(argv)))
    for name in ("train_batch_size", "gradient_accumulation_steps", "max_train_steps", "checkpointing_steps",
                 "resolution", "lora_rank"):  # fmt: skip
        if getattr(arguments, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {getattr(arguments, name)}")
    return arguments


def _checkpoints(output: Path) -> list[tuple[int, Path]]:
    """The run's checkpoints as (step, folder), oldest first."""
    folder = output / "checkpoints"
    found = [(int(match.group(1)), path) for path in folder.glob("checkpoint-*")
             if (match := CHECKPOINT_PATTERN.match(path.name)) and (path / STEP_FILE).is_file()]  # fmt: skip
    return sorted(found)


def _resume_point(arguments: TrainingArguments, output: Path) -> tuple[int, Path | None]:
    """The step to continue from and its checkpoint (0 and None for a fresh run).

    Raises:
        FileNotFoundError: a named checkpoint that does not exist.
    """
    wanted = arguments.resume_from_checkpoint
    if wanted is None:
        return 0, None
    if wanted == "latest":
        found = _checkpoints(output)
        return found[-1] if found else (0, None)
    path = Path(wanted)
    if not (path / STEP_FILE).is_file():
        raise FileNotFoundError(f"--resume-from-checkpoint {wanted}: no checkpoint there ({STEP_FILE})")
    return json.loads((path / STEP_FILE).read_text())["step"], path


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    sizes = {tuple(item["source"].shape) for item in items}
    if len(sizes) > 1:
        raise ValueError(
            f"a batch mixes image sizes {sorted(sizes)}; train configs of one aspect ratio together, or with "
            "--train-batch-size 1"
        )
    return {
        "source": torch.stack([item["source"] for item in items]),
        "target": torch.stack([item["target"] for item in items]),
        "instruction": [item["instruction"] for item in items],
        "sample_id": [item["sample_id"] for item in items],
    }


def trainable_denoiser(
    pipeline: Any,
    family: Any,
    method: str,
    lora_rank: int = 16,
    lora_alpha: float | None = None,
    gradient_checkpointing: bool = False,
) -> Any:
    """Freezes every component of ``pipeline`` but what ``method`` trains in its denoiser (a LoRA of the family's
    :attr:`~gsi_bench.train.families.TrainingFamily.lora_targets`, or every weight), kept in float32; returns the
    denoiser, in training mode."""
    import torch

    for component in pipeline.components.values():
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)
    denoiser = getattr(pipeline, family.denoiser)
    if method == "lora":
        from peft import LoraConfig

        denoiser.add_adapter(LoraConfig(
            r=lora_rank, lora_alpha=lora_alpha or lora_rank, init_lora_weights="gaussian",
            target_modules=list(family.lora_targets),
        ))  # fmt: skip
    else:
        denoiser.requires_grad_(True)
    for parameter in denoiser.parameters():
        if parameter.requires_grad:
            parameter.data = parameter.data.to(torch.float32)  # trained weights stay in float32
    if gradient_checkpointing:
        denoiser.enable_gradient_checkpointing()
    return denoiser.train()


class _Run:
    """One training run's state: the accelerator, the pipeline, the family and what the hooks save."""

    def __init__(self, arguments: TrainingArguments):
        import torch
        from accelerate import Accelerator
        from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
        from diffusers import DiffusionPipeline

        from gsi_bench.train.families import family_of

        self.arguments = arguments
        self.output = Path(arguments.output)
        report_to = None if arguments.report_to == "none" else arguments.report_to
        self.accelerator = Accelerator(
            gradient_accumulation_steps=arguments.gradient_accumulation_steps,
            mixed_precision=arguments.mixed_precision,
            log_with=report_to,
            project_config=ProjectConfiguration(project_dir=str(self.output), logging_dir=str(self.output / "logs")),
            dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
            cpu=not torch.accelerator.is_available(),
        )
        set_seed(arguments.seed)
        precision = self.accelerator.mixed_precision
        self.weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision, torch.float32)
        self.pipeline = DiffusionPipeline.from_pretrained(arguments.pretrained, dtype=self.weight_dtype)
        self.pipeline.set_progress_bar_config(disable=True)
        self.family = family_of(self.pipeline)
        self.family.prepare(self.pipeline)
        self.pipeline.to(self.accelerator.device)
        self.denoiser = trainable_denoiser(
            self.pipeline, self.family, arguments.method, arguments.lora_rank, arguments.lora_alpha,
            arguments.gradient_checkpointing,
        )  # fmt: skip
        self.accelerator.register_save_state_pre_hook(self._save_hook)
        self.accelerator.register_load_state_pre_hook(self._load_hook)

    @property
    def weights_file(self) -> str:
        """A checkpoint's file of the trained weights."""
        return f"{self.family.denoiser}_{self.arguments.method}.safetensors"

    def trainable_state(self) -> dict[str, Any]:
        """What is trained, by name: the LoRA's weights, or the denoiser's whole state."""
        denoiser = self.accelerator.unwrap_model(self.denoiser)
        if self.arguments.method == "lora":
            from peft.utils import get_peft_model_state_dict

            return get_peft_model_state_dict(denoiser)
        return denoiser.state_dict()

    def _save_hook(self, models: list[Any], weights: list[Any], folder: str) -> None:
        from safetensors.torch import save_file

        if self.accelerator.is_main_process:
            state = {name: tensor.detach().contiguous().cpu() for name, tensor in self.trainable_state().items()}
            save_file(state, str(Path(folder) / self.weights_file))
        while weights:  # accelerate would save the whole model again (for a LoRA, every frozen weight too)
            weights.pop()

    def _load_hook(self, models: list[Any], folder: str) -> None:
        from safetensors.torch import load_file

        state = load_file(str(Path(folder) / self.weights_file))
        denoiser = self.accelerator.unwrap_model(self.denoiser)
        if self.arguments.method == "lora":
            from peft.utils import set_peft_model_state_dict

            unexpected = set_peft_model_state_dict(denoiser, state).unexpected_keys
        else:
            unexpected = denoiser.load_state_dict(state, strict=True).unexpected_keys
        if unexpected:
            raise ValueError(f"checkpoint {folder} does not fit this run's model: unexpected weights {unexpected[:5]}")
        while models:
            models.pop()


def _validation_rows(arguments: TrainingArguments) -> Any | None:
    if arguments.validation_limit <= 0:
        return None
    from gsi_bench.evaluation import load_rows

    return load_rows(
        arguments.validation_data or arguments.data,
        arguments.validation_config,
        arguments.validation_split,
        arguments.validation_limit,
    )


def _validate(run: _Run, rows: Any, step: int) -> dict[str, float]:
    """Edits the validation rows with the current weights and scores them (profile ``gsi``): the overall means on the
    main process, nothing on the others. Every process takes part (each edits and scores every N-th row, as
    ``accelerate launch -m gsi_bench eval`` does)."""
    from gsi_bench.evaluation import evaluate_editor

    arguments = run.arguments
    out = run.output / "validation" / f"step-{step:06d}"
    denoiser = run.accelerator.unwrap_model(run.denoiser)
    denoiser.eval()
    setattr(run.pipeline, run.family.denoiser, denoiser)
    with run.accelerator.autocast():
        summary = evaluate_editor(
            run.pipeline, rows, out,
            config=arguments.validation_config, split=arguments.validation_split,
            editor_options={"steps": arguments.validation_inference_steps, "resolution": arguments.resolution,
                            "seed": arguments.seed, "device": str(run.accelerator.device)},
            workers=arguments.validation_workers, progress=False, resume=False,
        )  # fmt: skip
    denoiser.train()
    if summary is None:  # not the main process: its rows are in the main one's summary
        return {}
    overall = summary["overall"]
    figures = {f"validation/{metric}": float(overall[metric]) for metric in ("IC", "SA", "EL", "AC", "Avg")
               if overall.get(metric) is not None}  # fmt: skip
    scored = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines() if line.strip()]
    if scored:  # early in a fine-tuning no target is found yet and every mean is 0; these move before them
        figures["validation/found"] = 100.0 * sum(row["status"] == "ok" for row in scored) / len(scored)
        figures["validation/EL_all_rows"] = 100.0 * sum(row["el"] for row in scored) / len(scored)
        psnr = [row["details"]["el_psnr_db"] for row in scored if row.get("details", {}).get("el_psnr_db") is not None]
        if psnr:
            figures["validation/EL_psnr_db"] = sum(psnr) / len(psnr)
    return figures


def _record_validation(run: _Run, rows: Any, step: int) -> dict[str, float]:
    """:func:`_validate`, its figures logged to the tracker and to ``validation.jsonl``."""
    figures = _validate(run, rows, step)
    if figures:
        run.accelerator.log(figures, step=step)
        _append_line(run.output / "validation.jsonl", {"step": step, **figures})
    return figures


def _append_line(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def _save_final(run: _Run, step: int, seconds: float) -> None:
    """The weights ``diffusers:<output>`` loads, and :data:`TRAINING_FILE`."""
    from diffusers.utils import convert_state_dict_to_diffusers

    from gsi_bench.evaluation import library_versions

    arguments, output = run.arguments, run.output
    denoiser = run.accelerator.unwrap_model(run.denoiser)
    if arguments.method == "lora":
        lora = convert_state_dict_to_diffusers(run.trainable_state())
        type(run.pipeline).save_lora_weights(output, **{f"{run.family.denoiser}_lora_layers": lora})
    else:
        setattr(run.pipeline, run.family.denoiser, denoiser.to(run.weight_dtype))
        run.pipeline.save_pretrained(output)
    record = {
        "pretrained": arguments.pretrained,
        "pipeline_class": type(run.pipeline).__name__,
        "family": type(run.family).__name__,
        "denoiser": run.family.denoiser,
        "method": arguments.method,
        "steps": step,
        "processes": run.accelerator.num_processes,
        "mixed_precision": run.accelerator.mixed_precision,
        "seconds": round(seconds, 1),
        "arguments": asdict(arguments),
        "versions": library_versions(),
    }
    (output / TRAINING_FILE).write_text(json.dumps(record, indent=2) + "\n")


def train(arguments: TrainingArguments) -> dict[str, Any]:
    """Runs a training (on every process of an ``accelerate launch``); returns the last step's figures."""
    import torch
    from diffusers.optimization import get_scheduler
    from tqdm.auto import tqdm

    from gsi_bench.train.data import EditTriples, load_triples

    output = Path(arguments.output)
    rows = load_triples(arguments.data, arguments.configs, arguments.split, arguments.operations,
                        arguments.max_train_samples)  # fmt: skip
    step, checkpoint = _resume_point(arguments, output)
    output.mkdir(parents=True, exist_ok=True)
    run = _Run(arguments)
    accelerator = run.accelerator
    validation_rows = _validation_rows(arguments)
    triples = EditTriples(rows, arguments.resolution, arguments.augment, arguments.seed)
    full_batches = len(rows) >= arguments.train_batch_size * accelerator.num_processes
    loader = torch.utils.data.DataLoader(
        triples, batch_size=arguments.train_batch_size, shuffle=True, collate_fn=_collate, drop_last=full_batches
    )
    trainable = [parameter for parameter in run.denoiser.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=arguments.learning_rate)
    schedule = get_scheduler(
        arguments.lr_scheduler, optimizer, num_warmup_steps=arguments.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=arguments.max_train_steps * accelerator.num_processes,
    )  # fmt: skip
    run.denoiser, optimizer, loader, schedule = accelerator.prepare(run.denoiser, optimizer, loader, schedule)
    if accelerator.is_main_process:
        accelerator.init_trackers("gsi-bench-train", config={k: str(v) for k, v in asdict(arguments).items()})

    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
    updates_per_epoch = max(1, math.ceil(len(loader) / arguments.gradient_accumulation_steps))
    epoch, done_in_epoch = divmod(step, updates_per_epoch)
    if validation_rows is not None and step == 0:  # the pretrained model's figures, to compare with
        _record_validation(run, validation_rows, 0)
    accelerator.wait_for_everyone()
    progress = tqdm(total=arguments.max_train_steps, initial=step, desc="training", unit="step",
                    disable=arguments.quiet or not accelerator.is_local_main_process)  # fmt: skip
    started, last = time.monotonic(), {}
    while step < arguments.max_train_steps:
        loader.set_epoch(epoch)
        triples.epoch = epoch
        batches = accelerator.skip_first_batches(loader, done_in_epoch * arguments.gradient_accumulation_steps) \
            if done_in_epoch else loader  # fmt: skip
        done_in_epoch, losses = 0, []
        for batch in batches:
            with accelerator.accumulate(run.denoiser):
                generator = _draws(arguments.seed, step, len(losses), accelerator)
                loss = run.family.loss(run.pipeline, run.denoiser, batch, generator)
                losses.append(accelerator.gather(loss.detach()[None]).mean().item())
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(trainable, arguments.max_grad_norm)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
            if not accelerator.sync_gradients:
                continue
            step += 1
            progress.update(1)
            last = {"train/loss": sum(losses) / len(losses), "train/lr": schedule.get_last_lr()[0]}
            losses = []
            accelerator.log(last, step=step)
            if accelerator.is_main_process:
                _append_line(output / "train_log.jsonl", {"step": step, "loss": last["train/loss"],
                             "lr": last["train/lr"], "seconds": round(time.monotonic() - started, 3)})  # fmt: skip
                progress.set_postfix(loss=f"{last['train/loss']:.4f}")
            if step % arguments.checkpointing_steps == 0 or step == arguments.max_train_steps:
                _save_checkpoint(run, step)
            at_end = step == arguments.max_train_steps
            due = arguments.validation_steps and step % arguments.validation_steps == 0
            if validation_rows is not None and (at_end or due):
                last.update(_record_validation(run, validation_rows, step))
            accelerator.wait_for_everyone()
            if at_end:
                break
        epoch += 1
    progress.close()
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _save_final(run, step, time.monotonic() - started)
    accelerator.end_training()
    return last


def _draws(seed: int, step: int, micro_batch: int, accelerator: Any) -> Any:
    """The generator of one micro-batch's random draws: seeded by the run's seed, the optimizer step, the micro-batch
    and the process, so that a resumed run draws exactly what an uninterrupted one would."""
    import torch

    generator = torch.Generator(accelerator.device)
    return generator.manual_seed(hash((seed, step, micro_batch, accelerator.process_index)) & (2**63 - 1))


def _save_checkpoint(run: _Run, step: int) -> None:
    """``checkpoints/checkpoint-<step>`` (every process takes part), then the oldest beyond the limit removed."""
    folder = run.output / "checkpoints" / f"checkpoint-{step}"
    run.accelerator.save_state(str(folder))
    if not run.accelerator.is_main_process:
        return
    (folder / STEP_FILE).write_text(json.dumps({"step": step}) + "\n")
    limit = run.arguments.checkpoints_total_limit
    if limit is not None:
        for _, old in _checkpoints(run.output)[:-limit]:
            shutil.rmtree(old)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gsi_bench.train`` / ``accelerate launch -m gsi_bench.train``."""
    from gsi_bench.distributed import processes

    arguments = parse_arguments(argv)
    figures = train(arguments)
    if processes().is_main:
        shown = ", ".join(f"{name.split('/')[-1]} {value:.4g}" for name, value in figures.items())
        print(f"Trained {arguments.max_train_steps} steps; {shown}; weights in {arguments.output}")
    return 0  # accelerate's end_training has closed the process group
