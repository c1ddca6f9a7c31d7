"""The distribution: what the wheel holds, and the design card's uses from a clean install outside the checkout."""

from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

from gsi_metrics.evaluate_cache import MODULE_NAMES, module_file, register

REPO_ROOT = Path(__file__).resolve().parents[1]


def _declared_packages() -> list[str]:
    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg")
    return config["options"]["packages"].split()


def test_every_package_folder_is_declared_and_builders_installs_as_gsi_builders() -> None:
    found = find_packages(REPO_ROOT, include=["builders*", "gsi_bench*", "gsi_datasets*", "gsi_metrics*"])
    expected = sorted(
        name.replace("builders", "gsi_builders", 1) if name.startswith("builders") else name for name in found
    )
    assert sorted(_declared_packages()) == expected


def test_register_writes_evaluates_cache_layout(tmp_path: Path) -> None:
    files = register(cache=tmp_path)
    assert [f.name for f in files] == [f"{name}.py" for name in MODULE_NAMES]
    for name, cached in zip(MODULE_NAMES, files, strict=True):
        assert cached.read_bytes() == module_file(name).read_bytes()
        assert cached.parent.parent.name == f"evaluate-metric--{name}" and len(cached.parent.name) == 64
        assert (cached.parent / "__init__.py").is_file() and (cached.parent / "README.md").is_file()
    assert (tmp_path / "evaluate_modules" / "__init__.py").is_file()
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert register(cache=tmp_path) == files and [f.stat().st_mtime_ns for f in files] == mtimes  # current: no write
    with pytest.raises(KeyError, match="unknown GSI-Bench evaluate module 'gsi_nope'"):
        module_file("gsi_nope")


def test_bare_names_load_from_the_cache_offline(tmp_path: Path) -> None:
    """The mechanism itself, in this environment: a registered cache makes every bare name load offline."""
    script = "import evaluate\n" + "".join(f"print(type(evaluate.load({n!r})).__name__)\n" for n in MODULE_NAMES)
    register(cache=tmp_path / "modules")
    env = {
        **os.environ,
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
        "HF_HUB_OFFLINE": "1",
        "HF_EVALUATE_OFFLINE": "1",
    }
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [
        "GSIBench",
        "GSIInstructionCompliance",
        "GSISpatialAccuracy",
        "GSIEditLocality",
        "GSIAppearanceConsistency",
    ]


README_EXAMPLE = """\
import evaluate
from datasets import load_dataset

ds = load_dataset("syn", "tabletop", split="test")
bench = evaluate.load("gsi_bench")
unchanged = bench.compute(predictions=[ex["source_image"] for ex in ds], references=ds)
oracle = bench.compute(predictions=[ex["target_image"] for ex in ds], references=ds)
print(json.dumps({"unchanged": unchanged["Avg"], "oracle": oracle["Avg"], "n": oracle["num_samples"]}))
"""


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{command} failed:\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_the_wheel_in_a_clean_venv_loads_every_module_by_bare_name_and_scores(tmp_path: Path) -> None:
    """Build the wheel, install only it in a new venv, and use it from an empty folder, offline."""
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(REPO_ROOT),
        ],
        check=True,
    )
    (wheel,) = dist.glob("gsi_bench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gsi_bench_evaluate_modules.pth" in names
    assert {name.split("/")[0] for name in names if name.endswith(".py")} == {
        "gsi_bench",
        "gsi_builders",
        "gsi_datasets",
        "gsi_metrics",
    }
    assert all(f"gsi_metrics/{n}/{f}" in names for n in MODULE_NAMES for f in (f"{n}.py", "README.md", "app.py"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", str(wheel)])

    shown = subprocess.run([str(python), "-m", "pip", "show", "-f", "gsi-bench"], capture_output=True, text=True)
    installed = [line.strip() for line in shown.stdout.splitlines() if line.startswith("  ")]
    assert installed and not any(path.startswith("builders") for path in installed), shown.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "HF_"))  # nothing of this checkout's environment
    }
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1", HF_EVALUATE_OFFLINE="1", MUJOCO_GL="egl")
    build = [str(venv / "bin" / "gsi-bench"), "build", "syn", "--num-samples", "3", "--workers", "1", "--out", "syn"]
    subprocess.run([*build, "--quiet"], cwd=empty, env=env, check=True, capture_output=True)

    loads = "import evaluate\n" + "".join(f"print(evaluate.load({n!r}).name)\n" for n in MODULE_NAMES)
    done = subprocess.run([str(python), "-c", loads], cwd=empty, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == list(MODULE_NAMES)

    script = "import json\n" + README_EXAMPLE
    done = subprocess.run([str(python), "-c", script], cwd=empty, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    scores = json.loads(done.stdout.strip().splitlines()[-1])
    assert scores["n"] == 3 and scores["unchanged"] == 0.0 and scores["oracle"] > 50.0
    assert str(REPO_ROOT) not in done.stderr  # nothing was imported from the checkout
    print(textwrap.indent(done.stdout, "  "))
