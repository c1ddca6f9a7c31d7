"""Shared fixtures: small GSI-Syn splits built once per test session with the real generator."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Keep the tests' `datasets` cache out of the user's (and start every session with an empty one, removed after).
os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="gsi-bench-tests-hf-")
atexit.register(functools.partial(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], ignore_errors=True))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from gsi_builders.writer import build_split  # noqa: E402

#: The shared test split: 3 samples per operation, two shards, built with two worker processes.
SPLIT_SAMPLES = 9
SPLIT_SEED = 7


def build_argv(out: Path, seed: int, num_samples: int, shard_size: int, *extra: str) -> list[str]:
    """The command line of a one-worker, quiet ``gsi-bench build syn`` run with this interpreter."""
    import sys

    return [
        sys.executable, "-m", "gsi_bench.cli", "build", "syn", "--num-samples", str(num_samples), "--seed", str(seed),
        "--shard-size", str(shard_size), "--workers", "1", "--out", str(out), "--quiet", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="session")
def built_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 9-sample tabletop test split (seed 7) in a dataset folder; returns the folder."""
    out = tmp_path_factory.mktemp("syn") / "gsi-bench" / "syn"
    build_split(
        "tabletop", "test", SPLIT_SAMPLES, seed=SPLIT_SEED, out_dir=out, workers=2, shard_size=5, progress=False
    )
    return out


@pytest.fixture(scope="session")
def split_rows(built_split: Path) -> list[dict]:
    """The rows of ``built_split`` as ``datasets`` decodes them (PIL images, nested dicts)."""
    from datasets import load_dataset

    dataset = load_dataset(str(built_split), "tabletop", split="test")
    return [dataset[i] for i in range(len(dataset))]


#: The shared room split: 8 samples (CM, OP, RP, OR, SR and PC, as the room mix spreads them).
ROOM_SAMPLES = 8
ROOM_SEED = 3


@pytest.fixture(scope="session")
def room_rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The rows of an 8-sample room test split (seed 3), as ``datasets`` decodes them."""
    from datasets import load_dataset

    out = tmp_path_factory.mktemp("room") / "gsi-bench" / "syn"
    build_split("room", "test", ROOM_SAMPLES, seed=ROOM_SEED, out_dir=out, workers=2, shard_size=4, progress=False)
    dataset = load_dataset(str(out), "room", split="test")
    return [dataset[i] for i in range(len(dataset))]


@pytest.fixture
def fake_api():
    """Starts ``tests/fake_image_api.py`` servers on 127.0.0.1 (``fake_api("429,ok", "--answers", "score:7")``); each
    is stopped after the test. Returns the starter; a server has ``url`` (``.../v1``) and ``stats()``."""
    import json
    import subprocess
    import sys

    import httpx

    class Server:
        def __init__(self, process: subprocess.Popen, port: int) -> None:
            self.process, self.url = process, f"http://127.0.0.1:{port}/v1"

        def stats(self) -> dict:
            return httpx.get(self.url.removesuffix("/v1") + "/stats").json()

        def last_chat(self) -> dict:
            return httpx.get(self.url.removesuffix("/v1") + "/last_chat").json()

    started: list[subprocess.Popen] = []

    def start(plan: str = "ok", *arguments: str) -> Server:
        script = Path(__file__).parent / "fake_image_api.py"
        process = subprocess.Popen([sys.executable, str(script), "--plan", plan, *arguments], stdout=subprocess.PIPE,
                                   text=True)  # fmt: skip
        started.append(process)
        return Server(process, json.loads(process.stdout.readline())["port"])

    yield start
    for process in started:
        process.kill()
        process.wait()
