"""The fine-tuning recipe (``python -m gsi_bench.train``) on tiny pipelines built from configs, on the CPU.

The closed loop: a small InstructPix2Pix (:func:`tests.tiny_models.tiny_trainable_instruct_pix2pix`) overfit on 8
camera-relative moves makes edits of those rows that the benchmark scores better than the untrained model's, and its
loss falls. ``accelerate launch`` with two CPU processes writes checkpoints of the same format as one process, and a
run killed after its first checkpoint resumes to the same weights as a run that never stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gsi_builders.writer import build_split
from tests.tiny_models import tiny_instruct_pix2pix, tiny_trainable_instruct_pix2pix

pytest.importorskip("peft")
REPOSITORY = Path(__file__).resolve().parents[2]
RESOLUTION = 64


@pytest.fixture(scope="module")
def moves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 camera-relative moves (a tabletop train split, seed 1) in a dataset folder."""
    out = tmp_path_factory.mktemp("train") / "syn"
    build_split("tabletop", "train", 8, seed=1, out_dir=out, workers=2, progress=False,
                operation_mix={"camera_relative_move": 1.0})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def tiny_random(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_instruct_pix2pix(tmp_path_factory.mktemp("models") / "tiny-instruct-pix2pix")


def _train(*arguments: str, processes: int = 0, wait: bool = True, **popen: object) -> subprocess.Popen:
    """``python -m gsi_bench.train`` (``processes`` > 0: under ``accelerate launch``), one thread per process."""
    if processes:
        launcher = [str(Path(sys.executable).parent / "accelerate"), "launch", "--num_machines", "1",
                    "--mixed_precision", "no", "--dynamo_backend", "no", "--num_processes", str(processes),
                    *(["--multi_gpu"] if processes > 1 else []), "-m", "gsi_bench.train"]  # fmt: skip
    else:
        launcher = [sys.executable, "-m", "gsi_bench.train"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(
        [*launcher, *arguments, "--quiet", "--report-to", "none"], cwd=REPOSITORY, env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen,
    )  # fmt: skip
    if wait:
        _, errors = child.communicate(timeout=900)
        assert child.returncode == 0, errors[-3000:]
    return child


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _checkpoint_layout(folder: Path) -> dict[str, object]:
    """A checkpoint's files, and its trained weights' names and shapes."""
    from safetensors.torch import load_file

    weights = next(folder.glob("*_*.safetensors"))
    return {
        "files": sorted(path.name for path in folder.iterdir()),
        "weights": {name: tuple(tensor.shape) for name, tensor in load_file(str(weights)).items()},
    }


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.torch import load_file

    return {name: tensor.numpy() for name, tensor in load_file(str(next(folder.glob("*_*.safetensors")))).items()}


@pytest.mark.slow
def test_overfitting_eight_moves_lowers_the_loss_and_raises_the_benchmark_scores(moves, tmp_path):
    """The closed loop: the same 8 rows, scored by the benchmark before (step 0) and after 300 steps."""
    from datasets import load_dataset

    rows = load_dataset(str(moves), "tabletop", split="train")
    base = tiny_trainable_instruct_pix2pix(
        tmp_path / "base", [row[key] for row in rows for key in ("source_image", "target_image")],
        resolution=RESOLUTION, vae_steps=300,
    )  # fmt: skip
    out = tmp_path / "run"
    _train("--pretrained", str(base), "--data", str(moves), "--output", str(out), "--method", "full",
           "--resolution", str(RESOLUTION), "--train-batch-size", "8", "--learning-rate", "1e-3",
           "--max-train-steps", "300", "--checkpointing-steps", "300", "--validation-split", "train",
           "--validation-limit", "8", "--validation-inference-steps", "20")  # fmt: skip
    losses = [line["loss"] for line in _lines(out / "train_log.jsonl")]
    assert len(losses) == 300
    assert np.mean(losses[-50:]) < 0.5 * np.mean(losses[:10])
    before, after = _lines(out / "validation.jsonl")
    assert (before["step"], after["step"]) == (0, 300)
    # Edit locality, the benchmark's EL read on every row: the untrained UNet paints a blur, the trained one the
    # scene (measured: SSIM 78.4 -> 84.1, PSNR 16.0 -> 23.7 dB, every row better). The benchmark's means stay 0:
    # at 64 px through a VAE trained for a minute, no target is found yet (the README's fine-tuning section).
    assert after["validation/EL_all_rows"] > before["validation/EL_all_rows"] + 2
    assert after["validation/EL_psnr_db"] > before["validation/EL_psnr_db"] + 4
    psnr = {step: [json.loads(line)["details"]["el_psnr_db"] for line in
                   (out / "validation" / f"step-{step:06d}" / "samples.jsonl").read_text().splitlines()]
            for step in (0, 300)}  # fmt: skip
    assert all(trained > untrained for untrained, trained in zip(psnr[0], psnr[300], strict=True))
    assert after["validation/Avg"] >= before["validation/Avg"]
    # The weights load as an editor.
    from gsi_bench.editors import get_editor

    edited = get_editor(f"diffusers:{out}", {"steps": 4, "resolution": RESOLUTION})(rows[0])
    assert edited.image.size == rows[0]["source_image"].size


def test_lora_weights_load_as_an_editor_and_change_its_edits(tiny_random, built_split, split_rows, tmp_path):
    """``--method lora`` saves the LoRA alone; ``diffusers:<output>`` loads it onto the pretrained pipeline."""
    from gsi_bench.editors import get_editor

    out = tmp_path / "lora"
    _train("--pretrained", str(tiny_random), "--data", str(built_split), "--split", "test", "--output", str(out),
           "--method", "lora", "--lora-rank", "4", "--resolution", str(RESOLUTION), "--train-batch-size", "2",
           "--learning-rate", "1e-2", "--max-train-steps", "3", "--checkpointing-steps", "2",
           "--no-validation")  # fmt: skip
    record = json.loads((out / "training.json").read_text())
    assert record["pretrained"] == str(tiny_random) and record["method"] == "lora" and record["steps"] == 3
    assert (out / "pytorch_lora_weights.safetensors").is_file() and not (out / "model_index.json").exists()
    layout = _checkpoint_layout(out / "checkpoints" / "checkpoint-2")
    assert layout["weights"] and all("lora" in name for name in layout["weights"])  # no frozen weight saved
    options = {"steps": 2, "resolution": RESOLUTION}
    adapted = get_editor(f"diffusers:{out}", options)
    assert adapted.describe()["lora_of"] == str(tiny_random)
    row = split_rows[0]
    base_pixels = np.asarray(get_editor(f"diffusers:{tiny_random}", options)(row).image, dtype=np.int16)
    assert not np.array_equal(np.asarray(adapted(row).image, dtype=np.int16), base_pixels)


def test_two_processes_checkpoint_like_one_and_a_killed_run_resumes_to_the_same_weights(
    tiny_random, built_split, tmp_path
):
    """Checkpoints of 1 and 2 ``accelerate`` processes have the same files (but one random state per process) and
    the same weights' names and shapes; a run killed after its first checkpoint, resumed with ``latest``, ends
    with the weights of a run that never stopped."""
    common = ["--pretrained", str(tiny_random), "--data", str(built_split), "--split", "test", "--method", "lora",
              "--lora-rank", "4", "--resolution", str(RESOLUTION), "--train-batch-size", "2", "--max-train-steps", "4",
              "--checkpointing-steps", "2", "--learning-rate", "1e-2"]  # fmt: skip
    layouts, validation = {}, ["--validation-split", "test", "--validation-limit", "3",
                               "--validation-inference-steps", "1"]  # fmt: skip
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        _train(*common, *validation, "--output", str(out), processes=processes)
        assert json.loads((out / "training.json").read_text())["processes"] == processes
        assert [line["step"] for line in _lines(out / "train_log.jsonl")] == [1, 2, 3, 4]
        # The validation rows are shared between the processes and merged: all 3 scored, at step 0 and at the end.
        assert [line["step"] for line in _lines(out / "validation.jsonl")] == [0, 4]
        assert len((out / "validation" / "step-000004" / "samples.jsonl").read_text().splitlines()) == 3
        layouts[processes] = _checkpoint_layout(out / "checkpoints" / "checkpoint-4")
    assert layouts[2]["weights"] == layouts[1]["weights"]
    assert layouts[1]["files"] == ["optimizer.bin", "random_states_0.pkl", "scheduler.bin", "training_step.json",
                                   "unet_lora.safetensors"]  # fmt: skip
    assert layouts[2]["files"] == sorted([*layouts[1]["files"], "random_states_1.pkl"])

    common.append("--no-validation")
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _train(*common, "--output", str(straight))
    child = _train(*common, "--output", str(killed), "--checkpointing-steps", "1", wait=False)
    deadline = time.monotonic() + 600
    while not (killed / "checkpoints" / "checkpoint-2" / "training_step.json").is_file():
        assert child.poll() is None, child.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.kill()
    child.communicate()
    for later in (killed / "checkpoints").glob("checkpoint-*"):  # keep 2: as if the kill came right after it
        if later.name not in ("checkpoint-1", "checkpoint-2"):
            shutil.rmtree(later)
    _train(*common, "--output", str(killed), "--resume-from-checkpoint", "latest")
    resumed_steps = [line["step"] for line in _lines(killed / "train_log.jsonl")]
    assert resumed_steps[-2:] == [3, 4]
    final = {"straight": _weights(straight / "checkpoints" / "checkpoint-4"),
             "resumed": _weights(killed / "checkpoints" / "checkpoint-4")}  # fmt: skip
    assert final["straight"].keys() == final["resumed"].keys()
    for name, values in final["straight"].items():
        np.testing.assert_allclose(final["resumed"][name], values, rtol=0, atol=1e-6, err_msg=name)


def test_bad_training_input_is_refused_with_the_reason(tiny_random, built_split, tmp_path):
    from gsi_bench.train import TrainingArguments, parse_arguments, train
    from gsi_bench.train.data import TrainingDataError

    with pytest.raises(SystemExit, match="--train-batch-size must be >= 1"):
        parse_arguments(["--pretrained", "x", "--data", "y", "--output", "z", "--train-batch-size", "0"])
    arguments = TrainingArguments(pretrained=str(tiny_random), data=str(built_split), output=str(tmp_path / "o"),
                                  split="test", operations=["spatial_remove"], validation_limit=0,
                                  report_to="none", quiet=True)  # fmt: skip
    with pytest.raises(TrainingDataError, match="no training rows"):
        train(arguments)
    with pytest.raises(FileNotFoundError, match="no checkpoint there"):
        arguments.operations, arguments.resume_from_checkpoint = None, str(tmp_path / "nowhere")
        train(arguments)


def test_flux_kontext_lora_trains_and_its_weights_load_onto_the_pipeline(built_split, tmp_path):
    """The second family: FLUX.1 Kontext's transformer, flow matching on packed latents with the source's appended."""
    from diffusers import DiffusionPipeline

    from tests.tiny_models import tiny_flux_kontext

    base = tiny_flux_kontext(tmp_path / "tiny-flux-kontext")
    out = tmp_path / "kontext-lora"
    _train("--pretrained", str(base), "--data", str(built_split), "--split", "test", "--output", str(out),
           "--method", "lora", "--lora-rank", "4", "--resolution", "32", "--train-batch-size", "2",
           "--max-train-steps", "2", "--checkpointing-steps", "2", "--no-validation")  # fmt: skip
    record = json.loads((out / "training.json").read_text())
    assert record["family"] == "FluxKontext" and record["denoiser"] == "transformer"
    losses = [line["loss"] for line in _lines(out / "train_log.jsonl")]
    assert len(losses) == 2 and all(np.isfinite(losses))
    pipeline = DiffusionPipeline.from_pretrained(str(base))
    pipeline.load_lora_weights(str(out))
    adapted = [name for name, _ in pipeline.transformer.named_parameters() if "lora" in name]
    assert adapted and any(".attn.to_q." in name for name in adapted)


def test_augmentation_jitters_source_and_target_alike_and_is_seeded(built_split):
    """The photometric jitter leaves pixels that the edit did not change equal in source and target, is the same for
    the same (seed, epoch, row), and differs across epochs."""
    from gsi_bench.train.data import EditTriples, load_triples

    rows = load_triples(built_split, ["tabletop"], "test")
    plain, jittered = EditTriples(rows, 64), EditTriples(rows, 64, augment=True, seed=3)
    first = jittered[0]
    unchanged = (plain[0]["source"] == plain[0]["target"]).all(dim=0)
    assert unchanged.float().mean() > 0.5
    assert (first["source"][:, unchanged] == first["target"][:, unchanged]).all()
    assert not (first["source"] == plain[0]["source"]).all()  # jittered at all
    assert (jittered[0]["source"] == first["source"]).all()
    jittered.epoch = 1
    assert not (jittered[0]["source"] == first["source"]).all()
