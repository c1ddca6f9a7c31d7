"""The five ``evaluate`` modules (``gsi_metrics/gsi_*``): offline loading, numbers identical to the scoring
core, ``evaluate.combine``, missing and mistyped predictions, and the modules' own ``>>>`` examples."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ["HF_HUB_OFFLINE"] = "1"

import doctest  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import datasets  # noqa: E402
import evaluate  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gsi_builders.writer import build_split  # noqa: E402
from gsi_metrics.evaluate_support import encode_prediction  # noqa: E402
from gsi_metrics.perception import BACKENDS, Perception, create_backend  # noqa: E402
from gsi_metrics.predictions import load_prediction  # noqa: E402
from gsi_metrics.sample import SourceView  # noqa: E402
from gsi_metrics.scoring import score_sample, summarize  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Module name -> the axis it reports (None: the whole suite).
MODULES: dict[str, str | None] = {
    "gsi_bench": None,
    "gsi_instruction_compliance": "IC",
    "gsi_spatial_accuracy": "SA",
    "gsi_edit_locality": "EL",
    "gsi_appearance_consistency": "AC",
}
PROFILES = ("gsi", "paper")


def _same(a: Any, b: Any) -> bool:
    """Exact equality that also holds for NaN (JSON keeps every float's exact repr, and NaN as NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _per_sample(scores: list[Any], axes: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "sample_id": s.sample_id,
            "operation": s.operation,
            "status": s.status,
            "message": s.message,
            **{axis: {"IC": s.ic, "SA": s.sa, "EL": s.el, "AC": s.ac}[axis] for axis in axes},
        }
        for s in scores
    ]


def _expected_view(summary: dict[str, Any], axis: str | None, scores: list[Any]) -> dict[str, Any]:
    """What a module must return, written from ``summarize``'s output and the per-sample scores independently of
    the modules."""
    if axis is None:
        overall = {key: value for key, value in summary["overall"].items() if key != "n"}
        rest = {key: value for key, value in summary.items() if key != "overall"}
        return {**overall, **rest, "samples": _per_sample(scores, ("IC", "SA", "EL", "AC"))}
    view = {
        axis: summary["overall"][axis],
        f"{axis}_ci95": summary["overall"][f"{axis}_ci95"],
        f"{axis}_per_operation": {op: values[axis] for op, values in summary["per_operation"].items()},
        f"{axis}_per_operation_ci95": {op: values[f"{axis}_ci95"] for op, values in summary["per_operation"].items()},
    }
    if axis in ("EL", "AC"):
        view[f"{axis}_conditional_on_compliance"] = summary["conditional_on_compliance"][axis]
    view[f"{axis}_samples"] = _per_sample(scores, (axis,))
    return view


class MemoizedBackend:
    """The classical backend, answering again from memory for the same sample and the same edited pixels.

    The modules are wiring around the scoring core, so the tests run them many times on the same images;
    perception (render-and-compare) is most of the cost. The key is the exact pixels, so a module that
    decoded a prediction differently would miss the memory and be scored afresh (and compared as usual).
    """

    def __init__(self) -> None:
        self.inner = create_backend("classical")
        self.name = self.inner.name
        self.memory: dict[tuple[str, tuple[int, ...], str], Perception] = {}

    def config(self) -> dict[str, Any]:
        return self.inner.config()

    def perceive(self, sample: SourceView, edited: np.ndarray) -> Perception:
        key = (sample.sample_id, edited.shape, hashlib.sha256(edited.tobytes()).hexdigest())
        if key not in self.memory:
            self.memory[key] = self.inner.perceive(sample, edited)
        return self.memory[key]


@pytest.fixture(scope="module", autouse=True)
def memoized_classical_backend() -> Any:
    """Every ``create_backend("classical")`` of this test module (the modules' default) gets one memoized backend."""
    backend = MemoizedBackend()  # imports and registers the real "classical" first
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(BACKENDS, "classical", lambda **config: backend)
        yield backend


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-sample tabletop test split (seed 11, two samples per operation), built with the real generator."""
    out = tmp_path_factory.mktemp("evaluate") / "syn"
    build_split("tabletop", "test", 6, seed=11, out_dir=out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def dataset(split_dir: Path) -> datasets.Dataset:
    return datasets.load_dataset(str(split_dir), "tabletop", split="test")


@pytest.fixture(scope="module")
def predictions(dataset: datasets.Dataset) -> list[Image.Image]:
    """The oracle (target render) for even rows, the unchanged source for odd rows."""
    return [row["target_image"] if i % 2 == 0 else row["source_image"] for i, row in enumerate(dataset)]


@pytest.fixture(scope="module")
def scored(dataset: datasets.Dataset, predictions: list[Image.Image]) -> dict[str, list[Any]]:
    """``score_sample(row, prediction)`` of every row, per profile."""
    return {
        profile: [score_sample(row, pred, profile=profile) for row, pred in zip(dataset, predictions, strict=True)]
        for profile in PROFILES
    }


@pytest.fixture(scope="module")
def expected(scored: dict[str, list[Any]]) -> dict[str, dict[str, Any]]:
    """``summarize`` of the scores per profile: the numbers every module must reproduce."""
    return {profile: summarize(scores, profile) for profile, scores in scored.items()}


@pytest.fixture(scope="module")
def modules() -> dict[str, evaluate.EvaluationModule]:
    """Every module, loaded offline from its folder path."""
    return {name: evaluate.load(str(REPO_ROOT / "gsi_metrics" / name)) for name in MODULES}


@pytest.mark.parametrize("name", MODULES)
def test_loads_from_folder_path_and_bare_name(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO_ROOT)
    by_path = evaluate.load(f"gsi_metrics/{name}")
    monkeypatch.chdir(REPO_ROOT / "gsi_metrics")
    by_name = evaluate.load(name)
    assert type(by_path).__name__ == type(by_name).__name__
    assert isinstance(by_name, evaluate.Metric)
    assert set(by_name.features) == {"predictions", "references"}
    for part in ("README.md", "app.py", "requirements.txt"):
        assert (REPO_ROOT / "gsi_metrics" / name / part).is_file()


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", MODULES)
def test_numbers_identical_to_scoring_core(
    name: str,
    profile: str,
    modules: dict[str, evaluate.EvaluationModule],
    dataset: datasets.Dataset,
    predictions: list[Image.Image],
    expected: dict[str, dict[str, Any]],
    scored: dict[str, list[Any]],
) -> None:
    result = modules[name].compute(predictions=predictions, references=dataset, profile=profile)
    want = _expected_view(expected[profile], MODULES[name], scored[profile])
    assert _same({key: result[key] for key in want}, want)
    if MODULES[name] is None:
        assert result["backend"] == "classical"
    else:
        assert set(result) == set(want)  # single-axis results carry only their own, axis-prefixed keys


def test_combine(
    monkeypatch: pytest.MonkeyPatch,
    dataset: datasets.Dataset,
    predictions: list[Image.Image],
    expected: dict[str, dict[str, Any]],
    scored: dict[str, list[Any]],
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    combined = evaluate.combine(["gsi_metrics/gsi_instruction_compliance", "gsi_metrics/gsi_spatial_accuracy"])
    result = combined.compute(predictions=predictions, references=dataset)
    want = {
        **_expected_view(expected["gsi"], "IC", scored["gsi"]),
        **_expected_view(expected["gsi"], "SA", scored["gsi"]),
    }
    assert _same(result, want)


def test_missing_predictions_are_scored_zero_and_counted(
    modules: dict[str, evaluate.EvaluationModule], dataset: datasets.Dataset
) -> None:
    nothing = [None] * len(dataset)
    gsi = modules["gsi_bench"].compute(predictions=nothing, references=dataset)
    assert gsi["status_counts"] == {"missing": len(dataset)}
    assert gsi["num_samples"] == gsi["num_counted"] == len(dataset)
    assert [gsi[axis] for axis in ("IC", "SA", "EL", "AC", "Avg")] == [0.0] * 5
    paper = modules["gsi_bench"].compute(predictions=nothing, references=dataset, profile="paper")
    assert paper["status_counts"] == {"missing": len(dataset)}  # the reference skips them; we still count them
    assert paper["num_samples"] == len(dataset) and paper["num_counted"] == 0


def test_every_input_type_scored_as_the_core_scores_it(
    modules: dict[str, evaluate.EvaluationModule], dataset: datasets.Dataset, tmp_path: Path
) -> None:
    """None, a path, a missing path, an array, an in-memory JPEG and a PIL image, with rows (not a Dataset) as
    references: statuses and numbers match ``score_sample`` on the original objects, nothing is dropped."""
    rows = list(dataset)
    path = tmp_path / "edited.png"
    rows[1]["target_image"].save(path)
    buffer = io.BytesIO()
    rows[4]["target_image"].convert("RGB").save(buffer, format="JPEG", quality=70)
    jpeg = Image.open(io.BytesIO(buffer.getvalue()))
    mixed = [None, str(path), tmp_path / "never_written.png", np.array(rows[3]["target_image"]), jpeg, b"not an image"]
    scores = [score_sample(row, pred) for row, pred in zip(rows, mixed, strict=True)]
    want = _expected_view(summarize(scores), None, scores)
    assert want["status_counts"]["missing"] == 2 and want["status_counts"]["unreadable"] == 1
    result = modules["gsi_bench"].compute(predictions=mixed, references=rows)
    for key in want:
        assert _same(result[key], want[key]), key


def test_add_and_add_batch_accumulate(
    modules: dict[str, evaluate.EvaluationModule], dataset: datasets.Dataset, predictions: list[Image.Image]
) -> None:
    bench = modules["gsi_bench"]
    bench.add_batch(predictions=predictions[:2], references=dataset.select(range(2)))
    bench.add(prediction=predictions[2], reference=dataset[2])
    scores = [score_sample(dataset[i], predictions[i]) for i in range(3)]
    want = _expected_view(summarize(scores), None, scores)
    assert _same({key: value for key, value in bench.compute().items() if key != "backend"}, want)


@pytest.mark.parametrize("streaming", [False, True], ids=["dataset", "streaming"])
def test_add_batch_takes_the_batches_of_ds_iter(
    modules: dict[str, evaluate.EvaluationModule],
    split_dir: Path,
    dataset: datasets.Dataset,
    predictions: list[Image.Image],
    streaming: bool,
) -> None:
    """``for batch in ds.iter(batch_size=4): module.add_batch(predictions=..., references=batch)``, also from a
    streaming ``IterableDataset``: the same numbers as the whole split at once."""
    rows = datasets.load_dataset(str(split_dir), "tabletop", split="test", streaming=streaming)
    bench = modules["gsi_bench"]
    start = 0
    for batch in rows.iter(batch_size=4):
        count = len(batch["sample_id"])
        bench.add_batch(predictions=predictions[start : start + count], references=batch)
        start += count
    assert start == len(dataset)
    scores = [score_sample(dataset[i], predictions[i]) for i in range(len(dataset))]
    want = _expected_view(summarize(scores), None, scores)
    assert _same({key: value for key, value in bench.compute().items() if key != "backend"}, want)
    with pytest.raises(ValueError, match="not a batch of columns"):
        bench.add_batch(predictions=[predictions[0]], references=dataset[0])  # one row where a batch belongs


def test_unknown_profile_raises(modules: dict[str, evaluate.EvaluationModule], dataset: datasets.Dataset) -> None:
    with pytest.raises(ValueError, match=r"unknown profile 'nope'; choose one of \('gsi', 'paper'\)"):
        modules["gsi_edit_locality"].compute(predictions=[None] * len(dataset), references=dataset, profile="nope")


@pytest.mark.parametrize(
    "prediction",
    [
        np.linspace(0.0, 1.0, 8 * 6 * 3).reshape(8, 6, 3),  # float image in [0, 1], as diffusers' output_type="np"
        np.arange(8 * 6 * 4, dtype=np.uint8).reshape(8, 6, 4),  # RGBA
        np.arange(8 * 6, dtype=np.uint8).reshape(8, 6),  # grey
        Image.fromarray(np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3)),
        np.zeros((8, 6, 5), np.uint8),  # not an image: rejected either way, with the same reason
        42,
    ],
    ids=["float", "rgba", "grey", "pil", "five-channel", "int"],
)
def test_prediction_encoding_is_lossless(prediction: Any) -> None:
    source = np.full((16, 12, 3), 77, np.uint8)
    direct = load_prediction(prediction, (12, 16), background=source)
    stored = encode_prediction(prediction)
    through = load_prediction(stored["bytes"], (12, 16), background=source)
    assert (through.status, through.message) == (direct.status, direct.message)
    assert (direct.image is None and through.image is None) or np.array_equal(direct.image, through.image)


def test_wrong_number_of_predictions_raises(
    modules: dict[str, evaluate.EvaluationModule], dataset: datasets.Dataset, predictions: list[Image.Image]
) -> None:
    with pytest.raises(ValueError, match=r"got 5 predictions for 6 references: pass exactly one prediction per"):
        modules["gsi_bench"].compute(predictions=predictions[:5], references=dataset)
    with pytest.raises(ValueError, match=r"got 7 predictions for 6 references"):
        modules["gsi_spatial_accuracy"].compute(predictions=[*predictions, None], references=dataset)


def test_references_without_a_schema_column_raise(
    modules: dict[str, evaluate.EvaluationModule], dataset: datasets.Dataset
) -> None:
    with pytest.raises(ValueError, match=r"the dataset lacks \['support'\]"):
        modules["gsi_bench"].compute(predictions=[None] * len(dataset), references=dataset.remove_columns("support"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(
    name: str, modules: dict[str, evaluate.EvaluationModule], split_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``>>>`` examples, run as written from the repository root on the test split (``GSI_SYN_DIR``)."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.setenv("GSI_SYN_DIR", str(split_dir))
    module_file = sys.modules[type(modules[name]).__module__]
    results = doctest.testmod(module_file, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert results.attempted > 0
    assert results.failed == 0, f"{results.failed} doctest example(s) of {name} failed (see the captured output)"
