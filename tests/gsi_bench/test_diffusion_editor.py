"""The ``diffusers:`` editor on a tiny random InstructPix2Pix pipeline loaded from a local folder: call conventions,
per-sample seeds, resizing back to the source, batches, ``generate`` with 1 and 2 ``accelerate`` processes, and
``gsi_bench.evaluate_editor`` with a loaded pipeline."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

pytest.importorskip("diffusers")

from gsi_bench.editors import EditOutput, get_editor  # noqa: E402
from gsi_bench.editors.diffusion import DiffusionEditor, sample_seed  # noqa: E402
from tests.tiny_models import tiny_instruct_pix2pix  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_instruct_pix2pix(tmp_path_factory.mktemp("models") / "tiny-instruct-pix2pix")


def _pixels(output: EditOutput) -> np.ndarray:
    return np.asarray(output.image, dtype=np.int16)


def test_pipeline_is_loaded_from_its_folder_and_seeded_per_sample(tiny_pipeline, split_rows):
    editor = get_editor(f"diffusers:{tiny_pipeline}", {"steps": 2, "resolution": 64})
    row = split_rows[0]
    first, again = editor(row), editor(row)
    assert np.array_equal(_pixels(first), _pixels(again))  # the same sample gives the same image
    assert first.notes["seed"] == sample_seed(row["sample_id"], 0)
    assert first.notes["output_size"] == [64, 64] and first.notes["resized_to_source"] == list(row["source_image"].size)
    assert first.image.size == row["source_image"].size
    reseeded = get_editor(f"diffusers:{tiny_pipeline}", {"steps": 2, "resolution": 64, "seed": 1})(row)
    assert not np.array_equal(_pixels(first), _pixels(reseeded))

    described = editor.describe()
    assert described["pipeline_class"] == "StableDiffusionInstructPix2PixPipeline"
    assert described["call_arguments"] == {"guidance_scale": 7.5, "image_guidance_scale": 1.5, "num_inference_steps": 2}
    assert described["dtype"] == "float32" and described["device"] == "cpu"
    assert "sha256" in described["seed_policy"] and "64" in described["resolution_policy"]


def test_a_batch_gives_each_sample_its_own_seeded_image(tiny_pipeline, split_rows):
    rows = split_rows[:3]
    alone = [get_editor(f"diffusers:{tiny_pipeline}", {"steps": 2, "resolution": 64})(row) for row in rows]
    batched = get_editor(f"diffusers:{tiny_pipeline}", {"steps": 2, "resolution": 64, "batch_size": 3})
    together = batched.edit_batch(rows)
    for one, other in zip(alone, together, strict=True):
        assert np.abs(_pixels(one) - _pixels(other)).max() <= 2  # the batch's arithmetic, not other noise


class _RecordingPipeline:
    """Stands in for a pipeline class of the table: records its keyword arguments, answers at 40 x 30."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.config = SimpleNamespace(_name_or_path="fake/model")

    def set_progress_bar_config(self, **options) -> None:
        pass

    def __call__(self, *, prompt, generator, **arguments):
        self.calls.append({"prompt": prompt, **arguments})
        count = len(prompt) if isinstance(prompt, list) else 1
        return SimpleNamespace(images=[Image.new("RGB", (40, 30), (9, 9, 9))] * count)


@pytest.mark.parametrize(
    ("class_name", "expected"),
    [
        ("OmniGenPipeline", {"prompt": "<img><|image_1|></img> Move it.", "input_images": "list"}),
        ("QwenImageEditPipeline", {"true_cfg_scale": 4.0, "negative_prompt": " ", "image": "image"}),
        ("QwenImageEditPlusPipeline", {"true_cfg_scale": 6.0, "image": "list"}),
        ("FluxKontextPipeline", {"guidance_scale": 3.5, "max_area": 1024**2, "image": "image"}),
        ("StableDiffusionInstructPix2PixPipeline", {"image_guidance_scale": 1.5, "image": "image"}),
        ("SomeNewEditPipeline", {"prompt": "Move it.", "image": "image"}),
    ],
)
def test_each_family_is_called_with_its_own_keywords(class_name, expected):
    pipeline = type(class_name, (_RecordingPipeline,), {})()
    options = {"guidance": 6.0} if class_name == "QwenImageEditPlusPipeline" else {}
    editor = DiffusionEditor.from_pipeline(pipeline, **options)
    source = Image.new("RGB", (80, 60), (200, 10, 10))
    output = editor({"sample_id": "s-1", "instruction": "Move it.", "source_image": source})
    (call,) = pipeline.calls
    for key, value in expected.items():
        if value == "list":
            assert isinstance(call[key], list) and call[key][0].size == (80, 60)
        elif value == "image":
            assert isinstance(call[key], Image.Image)
        else:
            assert call[key] == value
    assert output.image.size == (80, 60) and output.notes["output_size"] == [40, 30]  # resized back, and noted


def test_generate_then_eval_with_one_and_two_accelerate_processes(tiny_pipeline, built_split, tmp_path):
    """``accelerate launch`` splits the rows between processes; the union equals a one-process run, image for
    image (both with one thread per process: other thread counts change the last bit of some sums)."""
    if shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("accelerate's launcher is not installed")
    launcher = [str(Path(sys.executable).parent / "accelerate"), "launch", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
    generate = [
        "-m", "gsi_bench", "generate", "--data", str(built_split), "--config", "tabletop", "--limit", "6",
        "--editor", f"diffusers:{tiny_pipeline}", "--editor-option", "steps=2", "--quiet",
    ]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    outputs = {}
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        flags = ["--num_processes", "1"] if processes == 1 else ["--multi_gpu", "--num_processes", "2"]
        command = [*launcher, *flags, *generate, "--out", str(out)]
        done = subprocess.run(command, cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        manifest = json.loads((out / "generation.json").read_text())
        assert manifest["processes"] == processes and manifest["counts"]["ok"] == 6
        assert len(list(out.glob("generation_log.*.jsonl"))) == processes
        outputs[processes] = {path.name: path.read_bytes() for path in out.glob("*.png")}
    assert len(outputs[1]) == 6 and outputs[1] == outputs[2]

    results = tmp_path / "results"
    from gsi_bench.evaluation import run_evaluation

    summary = run_evaluation(built_split, "tabletop", "test", f"folder:{tmp_path / 'p2'}", results, limit=6,
                             progress=False)  # fmt: skip
    assert summary["manifest"]["generation"]["editor"]["pipeline_class"] == "StableDiffusionInstructPix2PixPipeline"
    assert summary["manifest"]["generation"]["processes"] == 2


def test_evaluate_editor_scores_a_loaded_pipeline_in_a_few_lines(tiny_pipeline, built_split, tmp_path):
    from datasets import load_dataset
    from diffusers import DiffusionPipeline

    import gsi_bench

    pipe = DiffusionPipeline.from_pretrained(str(tiny_pipeline))
    dataset = load_dataset(str(built_split), "tabletop", split="test")
    results = gsi_bench.evaluate_editor(pipe, dataset, tmp_path / "r", editor_options={"steps": 2}, limit=3,
                                        progress=False)  # fmt: skip
    assert results["num_samples"] == 3
    assert results["manifest"]["editor"].startswith("diffusers:")
    assert results["manifest"]["dataset"]["config"] == "tabletop"


def test_eval_runs_a_diffusers_editor_in_process(tiny_pipeline, built_split, tmp_path):
    from gsi_bench.cli import main

    out = tmp_path / "in-process"
    command = ["eval", "--data", str(built_split), "--config", "tabletop", "--limit", "2", "--editor",
               f"diffusers:{tiny_pipeline}", "--editor-option", "steps=2", "--editor-option", "resolution=64",
               "--out", str(out), "--quiet"]  # fmt: skip
    assert main(command) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_samples"] == 2 and summary["manifest"]["editor"] == f"diffusers:{tiny_pipeline}"
    assert "missing" not in summary["status_counts"]  # the editor ran on every row
