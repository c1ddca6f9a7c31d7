"""The app of the metric Spaces: score one uploaded edited image against a dataset row picked by its sample id.

``gsi-bench push metrics`` writes each Space's ``app.py`` as::

    module = evaluate.load("my-org/gsi_bench")
    demo = build_demo(module, dataset="my-org/gsi-syn", config="tabletop", split="test")

:func:`score_edit` is the whole scoring logic (usable without Gradio, e.g. on a local dataset folder);
:func:`build_demo` wraps it in a Gradio page: pick a sample id (its source image and instruction are shown), upload
the editor's output, press Score, read IC / SA / EL / AC (0-100) and the status and message of the sample.
"""

from __future__ import annotations

import functools
import os
from typing import Any

#: Sample ids quoted in the message about an unknown one.
_EXAMPLE_IDS = 3


@functools.lru_cache(maxsize=4)
def load_split(data: str | os.PathLike, config: str, split: str) -> Any:
    """A dataset split (a local folder, verified first, or a Hub id), loaded once per process.

    Raises:
        FileNotFoundError, ValueError: as :func:`gsi_bench.evaluation.load_eval_dataset`.
    """
    from gsi_bench.evaluation import load_eval_dataset

    return load_eval_dataset(data, config, split)


def sample_ids(dataset: Any) -> list[str]:
    """The sample ids of a split, in row order."""
    return list(dataset["sample_id"])


def row_index(dataset: Any, sample_id: str) -> int:
    """The row of a sample id.

    Raises:
        ValueError: no row has that id (the message quotes a few that exist).
    """
    ids = sample_ids(dataset)
    try:
        return ids.index(sample_id.strip())
    except ValueError:
        examples = ", ".join(ids[:_EXAMPLE_IDS])
        raise ValueError(
            f"sample id {sample_id!r} is not in this split ({len(ids)} rows): pick one from the list, e.g. {examples}"
        ) from None


def score_edit(module: Any, image: Any, sample_id: str, dataset: Any, profile: str = "gsi") -> dict[str, Any]:
    """Scores one edited image against the dataset row ``sample_id`` with an ``evaluate`` module.

    Args:
        module: a loaded GSI-Bench ``evaluate`` module (the suite or one axis).
        image: the edited image: a PIL image, an array, a path, or None (scored as ``missing``).
        sample_id: the row's ``sample_id``.
        dataset: the split (``datasets.Dataset``).
        profile: ``gsi`` or ``paper``.

    Returns:
        ``{"sample_id", "operation", "status", "message"}`` and each axis the module reports (``IC``, ``SA``,
        ``EL``, ``AC``; 0-100).

    Raises:
        ValueError: ``sample_id`` is not in the split.
    """
    from gsi_metrics.scoring import AXES

    index = row_index(dataset, sample_id)
    result = module.compute(predictions=[image], references=dataset.select([index]), profile=profile)
    samples = result.get("samples") or next(value for key, value in result.items() if key.endswith("_samples"))
    sample = samples[0]
    return {
        "sample_id": sample["sample_id"],
        "operation": sample["operation"],
        "status": sample["status"],
        "message": sample["message"],
        **{axis: result[axis] for axis in AXES if axis in result},
    }


def build_demo(module: Any, dataset: str | os.PathLike, config: str = "tabletop", split: str = "test") -> Any:
    """The Gradio page of a metric Space (a ``gradio.Blocks``; call ``.launch()`` to serve it).

    Args:
        module: a loaded GSI-Bench ``evaluate`` module.
        dataset: the dataset (Hub id or local folder) whose rows the page scores against.
        config: its config.
        split: its split.

    Raises:
        ImportError: gradio is not installed (``pip install gsi-bench[spaces]``).
        FileNotFoundError, ValueError: the split cannot be loaded, or it is empty.
    """
    import gradio as gr

    rows = load_split(dataset, config, split)
    ids = sample_ids(rows)
    if not ids:
        raise ValueError(f"{dataset} {config}/{split} has no rows to score against")

    def show(sample_id: str) -> tuple[Any, str]:
        try:
            row = rows[row_index(rows, sample_id)]
        except ValueError as error:
            return None, str(error)
        return row["source_image"], row["instruction"]

    def score(image: Any, sample_id: str) -> dict[str, Any]:
        try:
            return score_edit(module, image, sample_id, rows)
        except ValueError as error:
            raise gr.Error(str(error)) from None

    name = getattr(module, "name", "GSI-Bench")
    with gr.Blocks(title=f"{name}: GSI-Bench metric") as demo:
        gr.Markdown(
            f"# {name}\n\nPick a sample of `{dataset}` ({config}/{split}), upload your editor's output for its source "
            "image and instruction, and press **Score**: Instruction Compliance, Spatial Accuracy, Edit Locality and "
            "Appearance Consistency (0-100), with the sample's status (why an output could not be scored)."
        )
        sample = gr.Dropdown(ids, value=ids[0], label="Sample id", allow_custom_value=True)
        instruction = gr.Textbox(label="Instruction", interactive=False)
        with gr.Row():
            source = gr.Image(label="Source image", interactive=False)
            edited = gr.Image(type="pil", label="Edited image (your editor's output)")
        button = gr.Button("Score", variant="primary")
        scores = gr.JSON(label="Scores (0-100), status and message")
        sample.change(show, sample, [source, instruction])
        demo.load(show, sample, [source, instruction])
        button.click(score, [edited, sample], scores, api_name="score")
    return demo


def demo_from_folder(app_file: str | os.PathLike) -> Any:
    """The page of the module in the folder of ``app_file`` (a module folder's own ``app.py``), against the dataset
    named by ``GSI_BENCH_DATASET`` (default ``gsi-bench/syn``), ``GSI_BENCH_CONFIG`` and ``GSI_BENCH_SPLIT``."""
    from pathlib import Path

    import evaluate

    module = evaluate.load(str(Path(app_file).resolve().parent))
    return build_demo(
        module,
        dataset=os.environ.get("GSI_BENCH_DATASET", "gsi-bench/syn"),
        config=os.environ.get("GSI_BENCH_CONFIG", "tabletop"),
        split=os.environ.get("GSI_BENCH_SPLIT", "test"),
    )
