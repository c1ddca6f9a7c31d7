"""The evaluation runner (``gsi_bench.evaluation``), the editor registry and the ``eval`` / ``leaderboard`` commands."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import signal  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from gsi_bench.cli import main  # noqa: E402
from gsi_bench.editors import Editor, get_editor, reference_name  # noqa: E402
from gsi_bench.evaluation import COLUMNS, run_evaluation  # noqa: E402

NUM_ROWS = 6
MANIFEST_KEYS = {
    "schema_version",
    "package",
    "versions",
    "platform",
    "profile",
    "profiles",
    "backend",
    "dataset",
    "editor",
    "workers",
    "timestamp",
    "seconds",
    "samples_per_second",
    "seconds_per_sample",
}


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-sample tabletop test split (2 rows per operation)."""
    from gsi_builders.writer import build_split

    out = tmp_path_factory.mktemp("eval") / "syn"
    build_split("tabletop", "test", NUM_ROWS, seed=13, out_dir=out, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def rows(split: Path) -> list[dict[str, Any]]:
    from datasets import load_dataset

    dataset = load_dataset(str(split), "tabletop", split="test")
    return [dataset[i] for i in range(len(dataset))]


@pytest.fixture(scope="module")
def results(split: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Results folders of the identity and oracle editors on the whole split (profile gsi)."""
    root = tmp_path_factory.mktemp("results")
    for editor in ("identity", "oracle"):
        run_evaluation(split, "tabletop", "test", editor, root / editor, progress=False)
    return {editor: root / editor for editor in ("identity", "oracle")}


def _summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


def _samples(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def _eval(split: Path, editor: str | Editor, out: Path, **options: Any) -> dict[str, Any]:
    return run_evaluation(split, "tabletop", "test", editor, out, progress=False, **options)


def test_identity_scores_zero_on_every_operation(results: dict[str, Path]) -> None:
    summary = _summary(results["identity"])
    assert set(summary["per_operation"]) == {"camera_relative_move", "object_rotate", "object_scale"}
    for scope in (summary["overall"], *summary["per_operation"].values()):
        assert scope["IC"] == 0.0 and scope["SA"] == 0.0


def test_oracle_scores_above_identity(results: dict[str, Path]) -> None:
    oracle, identity = _summary(results["oracle"]), _summary(results["identity"])
    for axis in ("IC", "SA", "Avg"):
        assert oracle["overall"][axis] > identity["overall"][axis] + 10


def test_every_row_has_one_line_and_the_counts_add_up(results: dict[str, Path], rows: list[dict[str, Any]]) -> None:
    for editor, folder in results.items():
        samples = _samples(folder)
        assert [s["sample_id"] for s in samples] == [row["sample_id"] for row in rows]
        assert {s["editor"] for s in samples} == {editor}
        summary = _summary(folder)
        assert summary["num_samples"] == summary["num_counted"] == NUM_ROWS
        assert sum(summary["status_counts"].values()) == NUM_ROWS
        assert sum(scope["n"] for scope in summary["per_operation"].values()) == summary["overall"]["n"] == NUM_ROWS
        # The status counts are those of the sample lines.
        statuses = [s["status"] for s in samples]
        assert summary["status_counts"] == {status: statuses.count(status) for status in set(statuses)}


def test_manifest_records_configuration_and_versions(results: dict[str, Path], split: Path, tmp_path: Path) -> None:
    manifest = _summary(results["oracle"])["manifest"]
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["package"]["version"] and manifest["editor"] == "oracle" and manifest["profile"] == "gsi"
    assert {"python", "gsi-bench", "numpy", "opencv", "datasets", "mujoco", "scikit-image", "evaluate"} <= set(
        manifest["versions"]
    )
    assert manifest["versions"]["numpy"] and manifest["versions"]["opencv"]
    dataset = manifest["dataset"]
    assert (dataset["config"], dataset["split"], dataset["num_rows"], dataset["num_scored"]) == (
        "tabletop",
        "test",
        NUM_ROWS,
        NUM_ROWS,
    )
    assert dataset["fingerprint"]["datasets_fingerprint"] and len(dataset["fingerprint"]["sample_ids_sha256"]) == 64
    assert manifest["backend"]["name"] == "classical" and manifest["backend"]["config"]["ratio"] == 0.8
    assert manifest["seconds"] > 0 and manifest["samples_per_second"] > 0

    other = _eval(split, "identity", tmp_path / "r", limit=1, backend_config={"ratio": 0.7})["manifest"]
    assert other["backend"]["config"]["ratio"] == 0.7
    assert other["backend"]["config_hash"] != manifest["backend"]["config_hash"]
    assert other["dataset"]["num_scored"] == 1 and other["dataset"]["num_rows"] == NUM_ROWS
    assert other["dataset"]["fingerprint"]["sample_ids_sha256"] != dataset["fingerprint"]["sample_ids_sha256"]


def test_folder_editor_reports_bad_files_per_sample(rows: list[dict[str, Any]], split: Path, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    nested = outputs / "generated_images_mesatask"  # the reference layout eval/<model>/generated_images_<dataset>
    nested.mkdir(parents=True)
    ids = [row["sample_id"] for row in rows]
    # Row 0: a directory named like an output. Row 1: garbage bytes. Row 2: a 2:1 image (and a GIF, not read).
    # Row 3: the oracle as an upper-case .PNG and as a JPEG (a duplicate: the lossless file wins). Rows 4-5: the
    # oracle under the reference naming, in the folder and in the reference sub-folder.
    (outputs / f"{ids[0]}.png").mkdir()
    (outputs / f"{ids[1]}.png").write_bytes(b"\x89PNG not really an image" * 10)
    Image.new("RGB", (512, 256), "gray").save(outputs / f"{ids[2]}.png")
    Image.new("RGB", (512, 512), "gray").save(outputs / f"{ids[2]}.gif")
    rows[3]["target_image"].save(outputs / f"{ids[3]}.jpg", quality=95)
    rows[3]["target_image"].save(outputs / f"{ids[3]}.PNG", format="PNG")
    rows[4]["target_image"].save(outputs / f"{reference_name(rows[4])}.png")
    rows[5]["target_image"].save(nested / f"{ids[5]}_edit_0.png")
    # An output named after no sample, and one in a sub-folder that is not searched: not scored, but reported.
    rows[0]["target_image"].save(outputs / "syn-tabletop-test-s13-999999.png")
    (outputs / "old").mkdir()
    rows[0]["target_image"].save(outputs / "old" / f"{ids[0]}.png")
    (outputs / "notes.txt").write_text("not a prediction, not reported")

    summary = _eval(split, f"folder:{outputs}", tmp_path / "r")
    files = summary["prediction_files"]
    assert (files["matched"], files["duplicates"], files["unmatched"]) == (6, 1, 3)
    details = json.loads((tmp_path / "r" / files["details"]).read_text())
    assert details["duplicates"] == [{"sample_id": ids[3], "used": f"{ids[3]}.PNG", "ignored": [f"{ids[3]}.jpg"]}]
    reasons = {entry["file"]: entry["reason"] for entry in details["unmatched"]}
    assert set(reasons) == {f"{ids[2]}.gif", "syn-tabletop-test-s13-999999.png", f"old/{ids[0]}.png"}
    assert "not read" in reasons[f"{ids[2]}.gif"] and "not searched" in reasons[f"old/{ids[0]}.png"]
    assert "matches no sample id" in reasons["syn-tabletop-test-s13-999999.png"]
    samples = _samples(tmp_path / "r")
    statuses = [s["status"] for s in samples]
    assert statuses[:3] == ["unreadable", "unreadable", "wrong_size"]
    assert "is a directory" in samples[0]["message"] and "no image format" in samples[1]["message"]
    assert all(status in ("ok", "target_not_found") for status in statuses[3:])
    assert summary["num_samples"] == NUM_ROWS
    assert get_editor(f"folder:{outputs}")(rows[4]) == outputs / f"{ids[4]}_edit_0.png"


def test_folder_editor_reports_a_dangling_link_as_missing(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    from gsi_metrics.scoring import score_sample

    (tmp_path / f"{rows[0]['sample_id']}.png").symlink_to(tmp_path / "elsewhere.png")
    prediction = get_editor(f"folder:{tmp_path}")(rows[0])
    score = score_sample(rows[0], prediction)
    assert score.status == "missing" and "dangling symbolic link" in score.message


def test_an_editor_that_raises_is_scored_missing_with_its_message(split: Path, tmp_path: Path) -> None:
    def broken(row: dict[str, Any]) -> Image.Image:
        raise RuntimeError(f"out of memory on {row['sample_id']}")

    summary = _eval(split, Editor("broken", broken), tmp_path / "r", limit=2)
    samples = _samples(tmp_path / "r")
    assert len(samples) == 2 and summary["status_counts"] == {"missing": 2}
    assert all("RuntimeError: out of memory on syn-tabletop-test" in s["message"] for s in samples)
    assert summary["overall"]["IC"] == 0.0
    with pytest.raises(ValueError, match="needs an editor that can be pickled"):  # a closure cannot go to workers
        _eval(split, Editor("broken", broken), tmp_path / "r2", limit=2, workers=2)


def _killed_on_the_second_row(row: dict[str, Any]) -> Any:
    """The oracle, except that the process handling row 1 is killed outright (as the out-of-memory killer, or a crash
    in a model's native code, ends it): no exception to catch, the worker is gone."""
    from gsi_bench.editors import oracle

    if row["sample_id"].endswith("-000001"):
        os.kill(os.getpid(), signal.SIGKILL)
    return oracle(row)


def test_a_row_that_kills_its_worker_is_that_rows_scoring_error_and_the_others_are_scored(
    results: dict[str, Path], split: Path, tmp_path: Path
) -> None:
    with pytest.warns(UserWarning, match="worker process died"):
        summary = _eval(split, Editor("killing", _killed_on_the_second_row), tmp_path / "r", limit=4, workers=2)
    samples, oracle = _samples(tmp_path / "r"), _samples(results["oracle"])[:4]
    assert [s["sample_id"] for s in samples] == [s["sample_id"] for s in oracle]
    assert samples[1]["status"] == "scoring_error" and "worker process died" in samples[1]["message"]
    for got, expected in zip(samples[0:1] + samples[2:], oracle[0:1] + oracle[2:], strict=True):
        assert {k: got[k] for k in ("status", "ic", "sa", "el", "ac")} == {
            k: expected[k] for k in ("status", "ic", "sa", "el", "ac")
        }
    assert summary["status_counts"]["scoring_error"] == 1


def _killed_on_every_row(row: dict[str, Any]) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def test_workers_that_die_on_every_row_end_the_run_with_the_reason(split: Path, tmp_path: Path) -> None:
    """Not the rows' doing: after three rows in a row have killed their workers alone, the run stops with the reason."""
    from concurrent.futures.process import BrokenProcessPool

    with pytest.warns(UserWarning), pytest.raises(BrokenProcessPool, match="3 items in a row killed their worker"):
        _eval(split, Editor("killing always", _killed_on_every_row), tmp_path / "r", limit=4, workers=2)


def _no_setup() -> None:
    """A worker initializer with nothing to set up."""


def _squared_but_item_2_hangs(index: int) -> int:
    if index == 2:
        threading.Event().wait()  # for ever, as a read-back waiting on a rasteriser that never finishes
    return index * index


def test_an_item_that_hangs_is_ended_by_its_time_limit_and_lost_alone() -> None:
    from gsi_bench.evaluation import ordered_in_workers

    with pytest.warns(UserWarning, match="hung past its time limit"):
        got = list(
            ordered_in_workers(
                _squared_but_item_2_hangs, range(5), 2, _no_setup, (), lambda i, m: ("lost", i, m), item_timeout_s=2.0
            )
        )
    assert got[:2] == [0, 1] and got[3:] == [9, 16]
    assert got[2][:2] == ("lost", 2) and "died" in got[2][2]


#: Made by the first worker that handles row 1 in the test below, before it kills itself (a path every process knows).
_KILLED_ONCE = Path(tempfile.gettempdir()) / f"gsi-bench-test-killed-once-{os.getuid()}"


def _killed_once_on_the_second_row(row: dict[str, Any]) -> Any:
    """The oracle, except that the first process to handle row 1 is killed outright: a rare crash."""
    from gsi_bench.editors import oracle

    if row["sample_id"].endswith("-000001") and not _KILLED_ONCE.exists():
        _KILLED_ONCE.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return oracle(row)


def test_a_worker_killed_once_costs_a_retry_not_a_row(results: dict[str, Path], split: Path, tmp_path: Path) -> None:
    _KILLED_ONCE.unlink(missing_ok=True)
    try:
        with pytest.warns(UserWarning, match="run again alone"):
            _eval(split, Editor("killing once", _killed_once_on_the_second_row), tmp_path / "r", limit=4, workers=2)
        assert _KILLED_ONCE.exists()  # a worker did die
    finally:
        _KILLED_ONCE.unlink(missing_ok=True)
    keys = ("sample_id", "status", "ic", "sa", "el", "ac")
    assert [{k: s[k] for k in keys} for s in _samples(tmp_path / "r")] == [
        {k: s[k] for k in keys} for s in _samples(results["oracle"])[:4]
    ]


def test_both_profiles_in_one_pass_match_single_profile_runs(
    results: dict[str, Path], split: Path, tmp_path: Path
) -> None:
    summary = _eval(split, "oracle", tmp_path / "both", profile="both", limit=3)
    assert summary["profile"] == "gsi" and summary["other_profiles"]["paper"]["profile"] == "paper"
    assert summary["manifest"]["profiles"] == ["gsi", "paper"]
    both, alone = _samples(tmp_path / "both"), _samples(results["oracle"])[:3]
    for combined, single in zip(both, alone, strict=True):
        assert {k: combined[k] for k in ("status", "ic", "sa", "el", "ac")} == {
            k: single[k] for k in ("status", "ic", "sa", "el", "ac")
        }
        assert set(combined["other_profiles"]["paper"]) >= {"status", "ic", "sa", "el", "ac"}


def test_worker_processes_give_the_same_scores(results: dict[str, Path], split: Path, tmp_path: Path) -> None:
    _eval(split, "oracle", tmp_path / "r", limit=4, workers=2)
    parallel, serial = _samples(tmp_path / "r"), _samples(results["oracle"])[:4]
    assert [(s["sample_id"], s["ic"], s["sa"], s["el"]) for s in parallel] == [
        (s["sample_id"], s["ic"], s["sa"], s["el"]) for s in serial
    ]


def test_parts_scored_apart_and_merged_equal_one_run(results: dict[str, Path], split: Path, tmp_path: Path) -> None:
    """``--num-shards 2 --shard-index I`` on two machines, then ``--merge-parts``: the same rows and summary as one
    run; a part of another run is refused, and rows no part scored are scored by the merge."""
    from gsi_bench.evaluation import EvaluationError

    for index in (0, 1):
        assert _eval(split, "oracle", tmp_path / f"part{index}", part=(index, 2)) is None
        assert not (tmp_path / f"part{index}" / "summary.json").exists()
    merged = _eval(split, "oracle", tmp_path / "merged", merge_parts=[tmp_path / "part0", tmp_path / "part1"])
    assert merged["manifest"]["resumed_rows"] == NUM_ROWS  # nothing scored again
    assert _samples(tmp_path / "merged") == _samples(results["oracle"])
    assert merged["overall"] == _summary(results["oracle"])["overall"]
    half = _eval(split, "oracle", tmp_path / "half", merge_parts=[tmp_path / "part1"])
    assert half["manifest"]["resumed_rows"] == NUM_ROWS // 2 and _samples(tmp_path / "half") == _samples(
        results["oracle"]
    )
    with pytest.raises(EvaluationError, match="part of another evaluation .*'editor'"):
        _eval(split, "identity", tmp_path / "wrong", merge_parts=[tmp_path / "part0"])
    with pytest.raises(ValueError, match="--shard-index must be in"):
        _eval(split, "oracle", tmp_path / "bad", part=(2, 2))


def test_registry_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="Did you mean oracle"):
        get_editor("oracel")
    with pytest.raises(ValueError, match="takes no argument"):
        get_editor("identity:x")
    with pytest.raises(ValueError, match="needs an argument"):
        get_editor("folder")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        get_editor(f"folder:{tmp_path / 'none'}")
    with pytest.raises(ValueError, match="target_image"):
        get_editor("oracle")({"sample_id": "real-0", "target_image": None})


def test_leaderboard_tables_equal_the_summaries(
    results: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md, png = tmp_path / "board.md", tmp_path / "board.png"
    folders = [str(results["identity"]), str(results["oracle"])]
    assert main(["leaderboard", *folders, "--out", str(md), "--plot", str(png)]) == 0
    text = md.read_text()
    assert text in capsys.readouterr().out
    cells = {}
    for line in text.splitlines():
        parts = [part.strip() for part in line.strip("|").split("|")]
        if len(parts) == 8 and parts[0] in ("identity", "oracle"):
            cells[(parts[0], parts[1] if not parts[1].isdigit() else "overall")] = parts
    for editor, folder in results.items():
        summary = _summary(folder)
        overall = cells[(editor, "overall")]
        for column, cell in zip(COLUMNS, overall[2:7], strict=True):
            assert float(cell.split(" ")[0]) == pytest.approx(summary["overall"][column], abs=0.005)
        low, high = summary["overall"]["IC_ci95"]
        assert overall[2] == f"{summary['overall']['IC']:.2f} [{low:.2f}, {high:.2f}]"
        for operation, axes in summary["per_operation"].items():
            row = cells[(editor, operation)]
            assert [float(cell.split(" ")[0]) for cell in row[3:8]] == pytest.approx(
                [axes[c] for c in COLUMNS], abs=0.005
            )
    image = Image.open(png)
    assert image.size[0] > 500 and image.size[1] > 500


def test_eval_command_prints_the_headline_table(
    split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r"
    args = ["eval", "--data", str(split), "--editor", "identity", "--out", str(out), "--limit", "2", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "| identity | 2 | 0.00 [0.00, 0.00] |" in printed and "Scored 2 samples" in printed
    assert _summary(out)["manifest"]["dataset"]["limit"] == 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["leaderboard", "{tmp}/nowhere"], "gsi-bench leaderboard: error: results folder {tmp}/nowhere does not exist"),
        (["leaderboard", "{tmp}"], "gsi-bench leaderboard: error: {tmp} has no summary.json"),
        (["eval", "--data", "{split}", "--editor", "oracel", "--out", "{tmp}/r"], "Did you mean oracle?"),
        (
            ["eval", "--data", "{tmp}/missing", "--editor", "oracle", "--out", "{tmp}/r"],
            "gsi-bench eval: error: dataset folder {tmp}/missing does not exist",
        ),
    ],
)
def test_cli_errors_are_one_clear_line(
    args: list[str], expected: str, split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([arg.format(tmp=tmp_path, split=split) for arg in args]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1
    assert expected.format(tmp=tmp_path) in error
    assert not (tmp_path / "r").exists()  # nothing written before the inputs were checked
