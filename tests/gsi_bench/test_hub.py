"""``gsi-bench push``: dry-run layouts file by file, the Hub's YAML schemas, the real path against a fake Hub on
127.0.0.1 (commits equal to the dry run, pull requests, stale shards), one-line errors, and the Space app."""

from __future__ import annotations

import ast
import datetime
import hashlib
import importlib.metadata
import json
import re
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from PIL import Image

from gsi_bench.cli import main
from gsi_bench.evaluation import run_evaluation, run_records
from gsi_bench.hub import merge_model_index, task_id
from gsi_metrics.evaluate_cache import MODULE_NAMES, module_file
from tests.fake_hub import FakeHub

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The Spaces ``push metrics`` writes, in order (one per evaluate module of gsi_metrics/).
MODULES = [
    "gsi_bench",
    "gsi_instruction_compliance",
    "gsi_spatial_accuracy",
    "gsi_edit_locality",
    "gsi_appearance_consistency",
]
# huggingface_hub's LFS upload passes a file object as `data=`, which httpx2 deprecates (not ours to fix).
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=:DeprecationWarning")

DATASET = "my-org/gsi-syn"
MODEL = "my-org/my-editor"
RESULTS = "my-org/gsi-bench-results"


# ------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def results_dir(built_split: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Identity editor on the first 2 rows of ``built_split``, scored in both profiles."""
    out = tmp_path_factory.mktemp("results") / "identity"
    run_evaluation(built_split, "tabletop", "test", "identity", out, profile="both", progress=False, limit=2)
    return out


@pytest.fixture
def dataset_copy(built_split: Path, tmp_path: Path) -> Path:
    """A copy of ``built_split`` with build scratch and unrelated files in it."""
    folder = tmp_path / "syn"
    shutil.copytree(built_split, folder)
    (folder / ".gsi_build" / "build.lock.json").write_text('{"pid": 1}')
    (folder / "data" / "tabletop" / "test-00000-of-00002.parquet.tmp").write_bytes(b"partial")
    (folder / "notes.txt").write_text("my notes")
    return folder


@pytest.fixture
def hub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Online, a token (``hf_fake``), no stored token, and the legacy LFS transfer (Xet needs a CAS server).

    Also a fresh cached agent registry: ``huggingface_hub`` would otherwise fetch it from huggingface.co (its
    import-time endpoint) to build its user agent, the only request that ignores ``HfApi(endpoint=...)``.
    """
    from huggingface_hub import constants

    registry = tmp_path / "agent-harnesses.json"
    registry.write_text('{"standardEnvVars": [], "harnesses": {}}')
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(registry))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-stored-tokens"))
    monkeypatch.setenv("HF_TOKEN", "hf_fake")
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)


@pytest.fixture
def fake_hub(hub_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fake Hub on 127.0.0.1, as ``HF_ENDPOINT``."""
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        yield hub


def _files(root: Path) -> dict[str, bytes]:
    """Path relative to ``root`` -> bytes of every file under it."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _digests(files: dict[str, bytes]) -> dict[str, tuple[int, str]]:
    return {path: (len(data), hashlib.sha256(data).hexdigest()) for path, data in files.items()}


def _front_matter(text: str) -> dict[str, Any]:
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    assert match, "the card has no YAML header"
    return yaml.safe_load(match.group(1))


def _push(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["push", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------------------------------------------
# Schemas, written from the Hub docs (hub-docs docs/hub/eval-results.md, "Eval.yaml specification" and
# "Adding Evaluation Results"), independently of gsi_bench.hub


def check_eval_yaml(content: Any) -> list[str]:
    """Problems of an ``eval.yaml``: required ``name``, ``description``, ``evaluation_framework`` (strings) and
    ``tasks`` (a non-empty list of ``{id (required, unique), config?, split?}``)."""
    problems = []
    if not isinstance(content, dict):
        return ["eval.yaml is not a mapping"]
    for key in ("name", "description", "evaluation_framework"):
        if not isinstance(content.get(key), str) or not content[key]:
            problems.append(f"{key} must be a non-empty string")
    tasks = content.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        return [*problems, "tasks must be a non-empty list"]
    ids = [task.get("id") for task in tasks if isinstance(task, dict)]
    if len(ids) != len(tasks) or not all(isinstance(i, str) and i for i in ids):
        problems.append("every task needs a string id")
    if len(set(ids)) != len(ids):
        problems.append("task ids must be unique")
    for task in tasks:
        for key in ("config", "split"):
            if key in task and not isinstance(task[key], str):
                problems.append(f"task {task.get('id')}: {key} must be a string")
    return problems


def check_eval_results(content: Any, task_ids: set[str]) -> list[str]:
    """Problems of an ``.eval_results/*.yaml``: a list of ``{dataset: {id, task_id, revision?}, value, verifyToken?,
    date?, source?: {url, name?, user?, org?}, notes?}``, each ``task_id`` one of the benchmark's ``eval.yaml``."""
    if not isinstance(content, list) or not content:
        return ["the file must be a non-empty list"]
    problems = []
    for n, entry in enumerate(content):
        unknown = set(entry) - {"dataset", "value", "verifyToken", "date", "source", "notes"}
        if unknown:
            problems.append(f"entry {n}: unknown keys {sorted(unknown)}")
        dataset = entry.get("dataset")
        if not isinstance(dataset, dict) or not isinstance(dataset.get("id"), str) or "/" not in dataset["id"]:
            problems.append(f"entry {n}: dataset.id must be a Hub dataset id")
            continue
        if set(dataset) - {"id", "task_id", "revision"}:
            problems.append(f"entry {n}: unknown dataset keys")
        if dataset.get("task_id") not in task_ids:
            problems.append(f"entry {n}: task_id {dataset.get('task_id')!r} is not a task of eval.yaml")
        if not isinstance(entry.get("value"), (int, float)) or isinstance(entry.get("value"), bool):
            problems.append(f"entry {n}: value must be a number")
        if "date" in entry:
            datetime.datetime.fromisoformat(str(entry["date"]))
        source = entry.get("source")
        if source is not None and (not isinstance(source, dict) or not isinstance(source.get("url"), str)):
            problems.append(f"entry {n}: source needs a url")
        if "notes" in entry and not isinstance(entry["notes"], str):
            problems.append(f"entry {n}: notes must be a string")
    return problems


# ------------------------------------------------------------------------------------------------------------
# Dry runs, file by file


def test_task_ids_are_one_per_config_split_and_profile() -> None:
    assert task_id("tabletop", "test") == task_id("tabletop", "test", "gsi") == "tabletop-test"
    assert task_id("room", "validation", "paper") == "room-validation-paper"


def test_dataset_dry_run_uploads_shards_manifests_card_preview_and_eval_yaml(
    dataset_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dry"
    code, printed, _ = _push(["dataset", str(dataset_copy), "--repo", DATASET, "--dry-run", str(out)], capsys)
    assert code == 0 and f"would push dataset {DATASET}" in printed
    assert sorted(p.relative_to(out).parts[:3] for p in out.rglob("*") if p.is_file())[0] == (
        "datasets",
        *DATASET.split("/"),
    )
    files = _files(out / "datasets" / DATASET)
    manifest = json.loads((dataset_copy / ".gsi_build" / "tabletop-test.json").read_text())
    shards = sorted(manifest["shards"])
    assert sorted(files) == sorted(
        [*shards, ".gsi_build/tabletop-test.json", "README.md", "eval.yaml", "preview/tabletop-test.png"]
    )  # no build.lock, build.lock.json, *.tmp or stray file
    for shard in shards:
        assert files[shard] == (dataset_copy / shard).read_bytes()
        assert hashlib.sha256(files[shard]).hexdigest() == manifest["shards"][shard]["sha256"]
    assert files[".gsi_build/tabletop-test.json"] == (dataset_copy / ".gsi_build" / "tabletop-test.json").read_bytes()

    card = files["README.md"].decode()
    metadata = _front_matter(card)
    assert metadata["license"] == "cc-by-4.0"
    assert metadata["configs"] == [
        {"config_name": "tabletop", "data_files": [{"split": "test", "path": "data/tabletop/test-*.parquet"}]}
    ]
    info = metadata["dataset_info"][0]
    assert info["splits"][0]["name"] == "test" and info["splits"][0]["num_examples"] == 9
    assert {feature["name"] for feature in info["features"]} >= {"sample_id", "source_image", "target_image"}
    assert "## Citation" in card and "@inproceedings{zhu2026gsibench" in card
    assert "](preview/tabletop-test.png)" in card and f'load_dataset("{DATASET}", "tabletop"' in card
    with Image.open(out / "datasets" / DATASET / "preview" / "tabletop-test.png") as preview:
        assert preview.format == "PNG" and preview.width > 600

    eval_yaml = yaml.safe_load(files["eval.yaml"])
    assert check_eval_yaml(eval_yaml) == []
    assert [(t["id"], t["config"], t["split"]) for t in eval_yaml["tasks"]] == [
        ("tabletop-test", "tabletop", "test"),
        ("tabletop-test-paper", "tabletop", "test"),
    ]
    assert "note: evaluation_framework 'gsi-bench' is not in the Hub's list" in printed

    code, _, err = _push(["dataset", str(dataset_copy), "--repo", DATASET, "--dry-run", str(out)], capsys)
    assert code == 2 and "already holds files" in err  # a dry run never mixes with an older one


def test_dataset_push_refuses_a_damaged_folder(
    dataset_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = dataset_copy / "data" / "tabletop" / "test-00001-of-00002.parquet"
    shard.write_bytes(shard.read_bytes()[:-100])
    code, _, err = _push(["dataset", str(dataset_copy), "--repo", DATASET, "--dry-run", str(tmp_path / "d")], capsys)
    assert code == 2
    assert (
        err.startswith("gsi-bench push: error: dataset folder") and "data/tabletop/test-00001-of-00002.parquet" in err
    )
    assert not (tmp_path / "d").exists()

    shutil.rmtree(dataset_copy / ".gsi_build")
    code, _, err = _push(["dataset", str(dataset_copy), "--repo", DATASET, "--dry-run", str(tmp_path / "d")], capsys)
    assert code == 2 and "holds no build manifests" in err
    code, _, err = _push(["dataset", str(dataset_copy), "--repo", "gsi-syn", "--dry-run", str(tmp_path / "d")], capsys)
    assert code == 2 and "--repo expects a Hub repository id OWNER/NAME" in err


def _requirement_closure(names: list[str]) -> set[str]:
    """The distributions ``names`` install, with their dependencies (extras left out)."""
    seen: set[str] = set()
    todo = [n.lower().replace("_", "-") for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [Requirement(r).name.lower().replace("_", "-") for r in requires if "extra ==" not in r]
    return seen


def test_metric_spaces_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dry"
    code, printed, _ = _push(["metrics", "--namespace", "my-org", "--dataset", DATASET, "--dry-run", str(out)], capsys)
    assert code == 0 and printed.count("would push space my-org/") == 5
    distributions = importlib.metadata.packages_distributions()
    version = importlib.metadata.version("gsi-bench")
    for name in MODULES:
        files = _files(out / "spaces" / "my-org" / name)
        assert sorted(files) == sorted([f"{name}.py", "README.md", "app.py", "requirements.txt"])
        assert files[f"{name}.py"] == (REPO_ROOT / "gsi_metrics" / name / f"{name}.py").read_bytes()

        app = ast.parse(files["app.py"])
        loads = [
            node.args[0].value
            for node in ast.walk(app)
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "evaluate.load"
        ]
        assert loads == [f"my-org/{name}"]  # by namespace: a bare name resolves to evaluate-metric/
        assert f'dataset="{DATASET}", config="tabletop", split="test"' in files["app.py"].decode()

        metadata = _front_matter(files["README.md"].decode())
        assert metadata["sdk"] == "gradio" and metadata["app_file"] == "app.py" and metadata["sdk_version"]
        assert {"evaluate", "metric"} <= set(metadata["tags"]) and metadata["datasets"] == [DATASET]
        assert f'evaluate.load("my-org/{name}")' in files["README.md"].decode()

        requirements = [Requirement(line) for line in files["requirements.txt"].decode().splitlines() if line]
        assert any(r.name == "gsi-bench" and str(r.specifier) == f"=={version}" for r in requirements)
        installed = _requirement_closure([r.name for r in requirements]) | {"gradio"}  # the SDK installs gradio
        for source in (f"{name}.py", "app.py"):
            for node in ast.walk(ast.parse(files[source])):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module or ""]
                for module in modules:
                    top = module.split(".")[0]
                    provided = {d.lower() for d in distributions.get(top, [])}
                    assert top in sys.stdlib_module_names or provided & installed, f"{name}/{source}: {module}"

    code, _, err = _push(
        ["metrics", "--namespace", "my-org", "--module", "gsi_nope", "--dry-run", str(out / "x")], capsys
    )
    assert code == 2 and "unknown metric module(s) gsi_nope" in err


def test_results_dry_run_follows_the_eval_results_schema(
    results_dir: Path, built_split: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _push(["results", str(results_dir), "--model", MODEL, "--dataset", DATASET], capsys)
    assert code == 2 and "scored 2 of the 9 rows" in err and "--allow-partial" in err
    code, _, err = _push(["results", str(results_dir), "--model", MODEL, "--allow-partial"], capsys)
    assert code == 2 and "pass --dataset OWNER/NAME" in err

    out = tmp_path / "dry"
    argv = ["results", str(results_dir), "--model", MODEL, "--dataset", DATASET, "--results-dataset", RESULTS]
    code, printed, _ = _push([*argv, "--allow-partial", "--model-index", "--dry-run", str(out)], capsys)
    assert code == 0 and f"would push model {MODEL}: commit 2 file(s)" in printed and "as a pull request" in printed
    model_files = _files(out / "models" / MODEL)
    assert sorted(model_files) == [".eval_results/gsi-bench.yaml", "README.md"]

    _push(["dataset", str(built_split), "--repo", DATASET, "--dry-run", str(out)], capsys)
    tasks = {task["id"] for task in yaml.safe_load((out / "datasets" / DATASET / "eval.yaml").read_text())["tasks"]}
    entries = yaml.safe_load(model_files[".eval_results/gsi-bench.yaml"])
    assert check_eval_results(entries, tasks) == []
    records = run_records(results_dir, MODEL)
    assert [(e["dataset"]["id"], e["dataset"]["task_id"]) for e in entries] == [
        (DATASET, "tabletop-test"),
        (DATASET, "tabletop-test-paper"),
    ]
    assert [e["value"] for e in entries] == [round(r["overall"]["Avg"], 4) for r in records]
    assert all("IC " in e["notes"] and "partial: 2 of 9 rows" in e["notes"] for e in entries)

    run_files = _files(out / "datasets" / RESULTS)
    stamp = datetime.datetime.fromisoformat(records[0]["manifest"]["timestamp"]).strftime("%Y%m%dT%H%M%SZ")
    assert sorted(run_files) == [
        f"runs/{MODEL}/tabletop-test-gsi-{stamp}.json",
        f"runs/{MODEL}/tabletop-test-paper-{stamp}.json",
    ]
    assert [json.loads(data) for data in run_files.values()] == records
    assert [e["source"]["url"].split("/blob/main/")[1] for e in entries] == list(run_files)

    index = _front_matter(model_files["README.md"].decode())["model-index"]
    metrics = index[0]["results"][0]["metrics"]
    assert index[0]["name"] == "my-editor" and index[0]["results"][0]["dataset"]["type"] == DATASET
    assert {(m["type"], m["config"]) for m in metrics} == {
        (f"gsi_bench_{c}", p) for c in ("ic", "sa", "el", "ac", "avg") for p in ("gsi", "paper")
    }


def test_merge_model_index_keeps_the_card_and_other_results(results_dir: Path) -> None:
    from huggingface_hub import EvalResult, ModelCard

    other = EvalResult(
        task_type="image-to-image", dataset_type="someone/other", dataset_name="Other", metric_type="fid",
        metric_value=3.0,
    )  # fmt: skip
    card = ModelCard("---\nlicense: mit\n---\n# My editor\n\nText.\n")
    card.data.eval_results, card.data.model_name = [other], "my-editor"
    ours = [
        EvalResult(
            task_type="image-to-image", dataset_type=DATASET, dataset_name="GSI-Syn", dataset_config="tabletop",
            dataset_split="test", metric_type="gsi_bench_avg", metric_config="gsi", metric_value=value,
        )
        for value in (1.0, 2.0)
    ]  # fmt: skip
    once = merge_model_index(str(card), MODEL, ours[:1])
    twice = ModelCard(merge_model_index(once.decode(), MODEL, ours[1:]).decode())
    assert twice.data.license == "mit" and "Text." in twice.text
    assert [(r.dataset_type, r.metric_value) for r in twice.data.eval_results] == [
        ("someone/other", 3.0),
        (DATASET, 2.0),
    ]


# ------------------------------------------------------------------------------------------------------------
# The real path, against the fake Hub


def _commits_match_dry_run(hub: FakeHub, dry: Path, count: int) -> None:
    """The last ``count`` commits added exactly the dry run's files of their repositories, byte for byte."""
    for commit in hub.commits[-count:]:
        expected = _files(dry / f"{commit.repo_type}s" / commit.repo_id)
        assert _digests(commit.added) == _digests(expected), commit.repo_id


def test_push_dataset_and_metrics_commit_the_dry_run_layout(
    fake_hub: FakeHub, dataset_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dry = tmp_path / "dry"
    assert _push(["dataset", str(dataset_copy), "--repo", DATASET, "--dry-run", str(dry)], capsys)[0] == 0
    assert _push(["metrics", "--namespace", "my-org", "--dataset", DATASET, "--dry-run", str(dry)], capsys)[0] == 0
    assert fake_hub.requests == []  # a dry run sends nothing

    fake_hub.repos["dataset", DATASET] = {"data/tabletop/test-00000-of-00003.parquet": b"stale", "notes.md": b"mine"}
    code, printed, _ = _push(["dataset", str(dataset_copy), "--repo", DATASET], capsys)
    assert code == 0 and f"dataset {DATASET}: committed {fake_hub.url}/datasets/{DATASET}/commit/" in printed
    assert [c for c in fake_hub.calls() if not c.startswith(("PUT /lfs-upload/", "POST /lfs-verify"))] == [
        "GET /api/whoami-v2",
        "POST /api/repos/create",
        f"GET /api/datasets/{DATASET}/tree/main",
        "POST /api/validate-yaml",
        f"POST /api/datasets/{DATASET}/preupload/main",
        f"POST /datasets/{DATASET}.git/info/lfs/objects/batch",
        f"POST /api/datasets/{DATASET}/commit/main",
    ]
    assert all(
        r.headers.get("authorization") == "Bearer hf_fake"
        for r in fake_hub.requests
        if r.path.startswith("/api/") and "agent" not in r.path
    )
    commit_request = fake_hub.requests[-1]
    lfs = {op["path"] for op in commit_request.operations if op["key"] == "lfsFile"}
    assert lfs == {p for p in _files(dry / "datasets" / DATASET) if p.endswith((".parquet", ".png"))}
    uploads = [r for r in fake_hub.requests if r.path.startswith("/lfs-upload/")]
    assert sorted(r.path.rsplit("/", 1)[1] for r in uploads) == sorted(
        op["sha256"] for op in commit_request.operations if op["key"] == "lfsFile"
    )
    _commits_match_dry_run(fake_hub, dry, 1)
    assert fake_hub.commits[-1].deleted == ["data/tabletop/test-00000-of-00003.parquet"]  # stale shard, not notes.md
    assert not fake_hub.commits[-1].create_pr

    code, printed, _ = _push(["metrics", "--namespace", "my-org", "--dataset", DATASET], capsys)
    assert code == 0 and printed.count("committed") == 5
    creates = [r.json() for r in fake_hub.requests if r.path == "/api/repos/create"][1:]
    assert [(c["organization"], c["name"], c["type"], c["sdk"]) for c in creates] == [
        ("my-org", name, "space", "gradio") for name in MODULES
    ]
    _commits_match_dry_run(fake_hub, dry, 5)


def test_push_results_opens_pull_requests_with_the_dry_run_files(
    fake_hub: FakeHub, results_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dry = tmp_path / "dry"
    argv = ["results", str(results_dir), "--model", MODEL, "--dataset", DATASET, "--results-dataset", RESULTS]
    argv += ["--allow-partial", "--model-index"]
    assert _push([*argv, "--dry-run", str(dry)], capsys)[0] == 0

    code, _, err = _push(argv, capsys)  # a pull request needs an existing repository
    assert code == 2 and err.count("\n") == 1
    assert f"model {MODEL} was not found on {fake_hub.url}" in err and "--no-create-pr" in err

    fake_hub.repos["model", MODEL] = {}
    fake_hub.repos["dataset", RESULTS] = {}
    code, printed, _ = _push(argv, capsys)
    assert code == 0
    assert f"model {MODEL}: opened pull request {fake_hub.url}/{MODEL}/discussions/" in printed
    assert f"dataset {RESULTS}: opened pull request {fake_hub.url}/datasets/{RESULTS}/discussions/" in printed
    commits = [r for r in fake_hub.requests if "/commit/" in r.path]
    assert [r.query.get("create_pr") for r in commits] == ["1", "1"]
    assert "/api/repos/create" not in [r.path for r in fake_hub.requests]
    assert all(c.create_pr for c in fake_hub.commits)
    _commits_match_dry_run(fake_hub, dry, 2)  # the model had no card: the same README.md as the dry run
    assert fake_hub.repos["model", MODEL] == {}  # a pull request leaves main alone

    code, printed, _ = _push([*argv, "--no-create-pr"], capsys)
    assert code == 0 and printed.count("committed") == 2
    assert ".eval_results/gsi-bench.yaml" in fake_hub.repos["model", MODEL]


def test_push_results_merges_model_index_into_the_current_card(
    fake_hub: FakeHub, results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_hub.repos["model", MODEL] = {"README.md": b"---\nlicense: mit\n---\n# My editor\n\nIt edits.\n"}
    argv = ["results", str(results_dir), "--model", MODEL, "--dataset", DATASET, "--allow-partial", "--model-index"]
    assert _push(argv, capsys)[0] == 0
    card = fake_hub.commits[-1].added["README.md"].decode()
    assert _front_matter(card)["license"] == "mit" and "It edits." in card and "model-index" in _front_matter(card)
    assert f"GET /{MODEL}/resolve/main/README.md" in fake_hub.calls()


def test_push_results_merges_entries_into_the_current_eval_results(
    fake_hub: FakeHub, results_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = {"dataset": {"id": DATASET, "task_id": "room-test"}, "value": 12.5}
    stale = {"dataset": {"id": DATASET, "task_id": "tabletop-test"}, "value": 1.0}
    fake_hub.repos["model", MODEL] = {".eval_results/gsi-bench.yaml": yaml.safe_dump([other, stale]).encode()}
    argv = ["results", str(results_dir), "--model", MODEL, "--dataset", DATASET, "--allow-partial"]
    assert _push(argv, capsys)[0] == 0
    entries = yaml.safe_load(fake_hub.commits[-1].added[".eval_results/gsi-bench.yaml"])
    assert entries[0] == other  # another task's entry stays
    tasks = [entry["dataset"]["task_id"] for entry in entries]
    assert tasks.count("tabletop-test") == 1 and stale not in entries  # the same task's entry is replaced


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("failure", ["offline mode", "nothing listening", "no token", "token rejected"])
def test_push_errors_are_one_clear_line(
    failure: str, hub_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from huggingface_hub import constants

    expected = {
        "offline mode": "HF_HUB_OFFLINE=1 is set, so nothing can be pushed: unset it, or use --dry-run DIR",
        "nothing listening": "cannot reach the Hub at http://127.0.0.1:",
        "no token": "not logged in to the Hub: run `hf auth login` or set HF_TOKEN",
        "token rejected": "the Hub rejected the token (401 Unauthorized): run `hf auth login` or set a valid HF_TOKEN",
    }[failure]
    with FakeHub(token="hf_other" if failure == "token rejected" else "hf_fake") as hub:
        endpoint = f"http://127.0.0.1:{_free_port()}" if failure == "nothing listening" else hub.url
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        if failure == "offline mode":
            monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        if failure == "no token":
            monkeypatch.delenv("HF_TOKEN")
        code, _, err = _push(["metrics", "--namespace", "my-org", "--module", "gsi_bench"], capsys)
    assert code == 2
    assert err.startswith(f"gsi-bench push: error: {expected}") and err.count("\n") == 1, err
    assert hub.commits == [] and (failure != "token rejected" or hub.calls() == ["GET /api/whoami-v2"])


# ------------------------------------------------------------------------------------------------------------
# The Space app


@pytest.fixture(scope="module")
def bench_module() -> Any:
    import evaluate

    return evaluate.load(str(REPO_ROOT / "gsi_metrics" / "gsi_bench"))


def test_space_app_scores_an_upload_against_a_sample_id(
    bench_module: Any, built_split: Path, split_rows: list[dict]
) -> None:
    import evaluate

    from gsi_bench.space_app import load_split, score_edit

    rows = load_split(built_split, "tabletop", "test")
    row = split_rows[1]
    oracle = score_edit(bench_module, row["target_image"], row["sample_id"], rows)
    assert oracle["sample_id"] == row["sample_id"] and oracle["status"] == "ok" and oracle["IC"] == 100.0
    assert set(oracle) == {"sample_id", "operation", "status", "message", "IC", "SA", "EL", "AC"}
    source = score_edit(bench_module, row["source_image"], row["sample_id"], rows)
    assert source["IC"] == 0.0
    with pytest.raises(ValueError, match=r"sample id 'nope' is not in this split \(9 rows\): pick one from the list"):
        score_edit(bench_module, row["target_image"], "nope", rows)

    locality = evaluate.load(str(REPO_ROOT / "gsi_metrics" / "gsi_edit_locality"))
    missing = score_edit(locality, None, row["sample_id"], rows)
    assert missing["status"] == "missing" and missing["message"] and set(missing) & {"IC", "SA", "EL", "AC"} == {"EL"}


def test_space_app_gradio_page(
    bench_module: Any, built_split: Path, split_rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry or version check leaves the machine
    gr = pytest.importorskip("gradio")

    from gsi_bench.space_app import build_demo

    demo = build_demo(bench_module, built_split, "tabletop", "test")
    functions = {f.api_name: f.fn for f in demo.fns.values()}
    row = split_rows[0]
    image, instruction = functions["show"](row["sample_id"])
    assert instruction == row["instruction"] and image.size == row["source_image"].size
    assert functions["score"](row["target_image"], row["sample_id"])["IC"] == 100.0
    with pytest.raises(gr.Error, match="is not in this split"):
        functions["score"](row["target_image"], "nope")


@pytest.mark.parametrize("name", MODULE_NAMES)
def test_each_module_folders_own_app_serves_its_module(
    name: str, built_split: Path, split_rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gsi_metrics/<name>/app.py``, run as a script's module, builds the page of that module against the dataset
    named by the environment, and scores with that module."""
    import runpy

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    pytest.importorskip("gradio")
    monkeypatch.setenv("GSI_BENCH_DATASET", str(built_split))
    demo = runpy.run_path(str(module_file(name).parent / "app.py"))["demo"]
    functions = {f.api_name: f.fn for f in demo.fns.values()}
    row = split_rows[0]
    scores = functions["score"](row["target_image"], row["sample_id"])
    assert scores["status"] == "ok" and scores["sample_id"] == row["sample_id"]
