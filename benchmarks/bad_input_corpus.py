"""Runs a corpus of bad and unusual inputs through ``gsi-bench eval``, the ``evaluate`` module and ``gsi-bench
eval`` on damaged datasets, and prints per category: cases, crashes, silent wrong scores and rows lost.

- A **crash** is an exception escaping the run (or a command exiting with a traceback instead of a one-line
  error): nothing is written and every row is stranded.
- A **silent wrong score** is a case whose status is not the expected one (a bad input scored as ``ok`` or as
  the model's ``target_not_found``), or an encoding of the correct edit whose scores differ from the oracle's.
- **Rows lost**: dataset rows without a result line.

Usage: ``python benchmarks/bad_input_corpus.py [--out DIR]`` (builds a small tabletop split, ~3 min on 2 cores).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def _grey16(oracle: np.ndarray) -> bytes:
    return _png(Image.fromarray(oracle[..., 0].astype(np.uint16) * 257))


def _png(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _bomb(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)


def _with_nan(oracle: np.ndarray) -> np.ndarray:
    image = oracle / 255.0
    image[3, 3, 1] = np.nan
    return image


def _with_inf(oracle: np.ndarray) -> np.ndarray:
    image = oracle.astype(np.float32)
    image[7, 1, 0] = np.inf
    return image


def _flipped(oracle: np.ndarray) -> bytes:
    data = bytearray(_png(Image.fromarray(oracle)))
    data[11] ^= 0x40  # a bit of the IHDR chunk's length
    return bytes(data)


def _transparent_left(oracle: np.ndarray) -> np.ndarray:
    rgba = np.dstack([oracle, np.full(oracle.shape[:2], 255, np.uint8)])
    rgba[:, :10, 3] = 0  # shows the source there
    return rgba


def _chw(oracle: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(oracle, -1, 0))


def _torch(make: Callable[[Any, np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
    def build(oracle: np.ndarray) -> Any:
        import torch

        return make(torch, oracle)

    return build


@dataclass(frozen=True)
class Case:
    """One input: how to make it from the oracle pixels, and what it must be scored as.

    ``same_as_oracle``: the input holds exactly the oracle's pixels, so it must score exactly as the oracle.
    ``as_file``: the bytes are written to a file and the path is the prediction.
    """

    name: str
    category: str
    make: Callable[[np.ndarray], Any]
    status: str
    same_as_oracle: bool = False
    as_file: bool = False


CASES = (
    # files and bytes
    Case("png file", "files", lambda o: _png(Image.fromarray(o)), "ok", True, True),
    Case("16-bit grey png", "files", _grey16, "ok", as_file=True),
    Case("decompression bomb", "files", lambda o: _bomb(20000, 20000), "too_large", as_file=True),
    Case("over the pixel limit", "files", lambda o: _bomb(8200, 8200), "too_large", as_file=True),
    Case("flipped bit in a chunk length", "files", _flipped, "unreadable", as_file=True),
    Case("truncated png", "files", lambda o: _png(Image.fromarray(o))[:5000], "unreadable", as_file=True),
    Case("empty file", "files", lambda o: b"", "unreadable", as_file=True),
    Case("text file", "files", lambda o: b"I am not an image", "unreadable", as_file=True),
    Case("wrong aspect", "files", lambda o: _png(Image.fromarray(o).resize((512, 256))), "wrong_size", as_file=True),
    Case("half resolution", "files", lambda o: _png(Image.fromarray(o).resize((256, 256))), "ok", as_file=True),
    Case("bytes of a png", "files", lambda o: _png(Image.fromarray(o)), "ok", True),
    Case("empty bytes", "files", lambda o: b"", "unreadable"),
    Case("rgba png, opaque", "files", lambda o: _png(Image.fromarray(o).convert("RGBA")), "ok", True),
    Case("rgba png, left edge transparent", "files", lambda o: _png(Image.fromarray(_transparent_left(o))), "ok"),
    Case("palette png", "files", lambda o: _png(Image.fromarray(o).quantize(64)), "ok"),
    # arrays
    Case("float [0, 1]", "arrays", lambda o: o / 255.0, "ok", True),
    Case("float [-1, 1]", "arrays", lambda o: o / 127.5 - 1.0, "ok", True),
    Case("float [0, 255]", "arrays", lambda o: o.astype(np.float32), "ok", True),
    Case("float16 [0, 1]", "arrays", lambda o: (o / 255.0).astype(np.float16), "ok"),
    Case("float with a NaN", "arrays", _with_nan, "invalid_values"),
    Case("float with an inf", "arrays", _with_inf, "invalid_values"),
    Case("float in [0, 1000]", "arrays", lambda o: o * 4.0, "invalid_values"),
    Case("uint16", "arrays", lambda o: o.astype(np.uint16) * 257, "ok", True),
    Case("int64 in [0, 255]", "arrays", lambda o: o.astype(np.int64), "ok", True),
    Case("int64 with 300", "arrays", lambda o: o.astype(np.int64) + 45, "invalid_values"),
    Case("bool mask", "arrays", lambda o: o[..., 0] > 128, "ok"),
    Case("CHW uint8", "arrays", lambda o: _chw(o), "ok", True),
    Case("HW1 grey", "arrays", lambda o: o[..., :1], "ok"),
    Case("batch of one", "arrays", lambda o: o[None], "ok", True),
    Case("batch of two", "arrays", lambda o: np.stack([o, o]), "unsupported_format"),
    Case("five channels", "arrays", lambda o: np.dstack([o, o[..., :2]]), "unsupported_format"),
    Case("1-d array", "arrays", lambda o: o.ravel(), "unsupported_format"),
    Case("empty array", "arrays", lambda o: np.zeros((0, 0, 3), np.uint8), "unsupported_format"),
    Case("complex array", "arrays", lambda o: o.astype(np.complex64), "unsupported_format"),
    # PIL images
    Case("PIL F in [0, 1]", "PIL images", lambda o: Image.fromarray((o[..., 0] / 255.0).astype(np.float32)), "ok"),
    Case("PIL I;16", "PIL images", lambda o: Image.fromarray(o[..., 0].astype(np.uint16) * 257), "ok"),
    Case("PIL CMYK", "PIL images", lambda o: Image.fromarray(o).convert("CMYK"), "ok"),
    Case("PIL LA transparent", "PIL images", lambda o: Image.fromarray(o).convert("LA").point(lambda v: 0), "ok"),
    # tensors
    Case("tensor CHW [0, 1]", "tensors", _torch(lambda t, o: t.from_numpy(_chw(o) / 255.0)), "ok", True),
    Case("tensor batch [-1, 1]", "tensors", _torch(lambda t, o: t.from_numpy(_chw(o)[None] / 127.5 - 1)), "ok", True),
    Case("tensor bfloat16", "tensors", _torch(lambda t, o: t.from_numpy(o / 255.0).to(t.bfloat16)), "ok"),
    Case("tensor requires grad", "tensors", _torch(lambda t, o: t.from_numpy(o / 255.0).requires_grad_()), "ok", True),
    Case("tensor with NaN", "tensors", _torch(lambda t, o: t.from_numpy(_with_nan(o))), "invalid_values"),
    # other objects
    Case("None", "objects", lambda o: None, "missing"),
    Case("a dict", "objects", lambda o: {"image": o}, "unsupported_format"),
    Case("a list", "objects", lambda o: o.tolist()[:2], "unsupported_format"),
    Case("an int", "objects", lambda o: 7, "unsupported_format"),
    Case("a string path that does not exist", "objects", lambda o: "/nonexistent/edit.png", "missing"),
)  # fmt: skip


@dataclass(frozen=True)
class CorpusEditor:
    """Row ``i`` gets case ``i`` of :data:`CASES` (a module-level class, so evaluation workers can pickle it)."""

    folder: str

    def __call__(self, row: dict[str, Any]) -> Any:
        index = int(row["sample_id"].rsplit("-", 1)[1])
        case = CASES[index]
        made = case.make(np.array(row["target_image"]))
        if case.as_file:
            path = Path(self.folder) / f"{index}.png"
            path.write_bytes(made)
            return path
        return made


@dataclass
class Tally:
    cases: int = 0
    crashes: int = 0
    silent_wrong: int = 0
    rows_lost: int = 0


def _judge(tallies: dict[str, Tally], statuses: list[str | None], oracle: list[tuple], got: list[tuple]) -> list[str]:
    """Counts each case's outcome; returns descriptions of the wrong ones."""
    wrong = []
    for index, case in enumerate(CASES):
        tally = tallies.setdefault(case.category, Tally())
        tally.cases += 1
        status = statuses[index] if index < len(statuses) else None
        if status is None:
            tally.rows_lost += 1
            continue
        if status != case.status or (case.same_as_oracle and got[index] != oracle[index]):
            tally.silent_wrong += 1
            wrong.append(f"{case.name}: {status} (expected {case.status})")
    return wrong


def _eval_run(split: Path, workdir: Path) -> tuple[list[str | None], list[tuple], str]:
    from gsi_bench.editors import Editor
    from gsi_bench.evaluation import run_evaluation

    try:
        editor = Editor("corpus", CorpusEditor(str(workdir)))
        run_evaluation(split, "tabletop", "test", editor, workdir / "eval", workers=2, progress=False)
    except Exception as error:  # noqa: BLE001 (a crash is what this counts)
        return [], [], f"{type(error).__name__}: {error}"
    lines = [json.loads(line) for line in (workdir / "eval" / "samples.jsonl").read_text().splitlines()]
    return [s["status"] for s in lines], [(s["ic"], s["sa"], s["el"], s["ac"]) for s in lines], ""


def _module_run(split: Path, workdir: Path) -> tuple[list[str | None], list[tuple], str]:
    import evaluate
    from datasets import load_dataset

    dataset = load_dataset(str(split), "tabletop", split="test")
    editor = CorpusEditor(str(workdir))
    try:
        predictions = [editor(row) for row in dataset]
        module = evaluate.load(str(Path(__file__).resolve().parents[1] / "gsi_metrics" / "gsi_bench"))
        result = module.compute(predictions=predictions, references=dataset)
    except Exception as error:  # noqa: BLE001
        return [], [], f"{type(error).__name__}: {error}"
    samples = result["samples"]
    return [s["status"] for s in samples], [(s["IC"], s["SA"], s["EL"], s["AC"]) for s in samples], ""


def _damaged_datasets(split: Path, workdir: Path) -> Tally:
    """``gsi-bench eval`` on copies of the split, one damage each: one clear line, exit 2, the file named."""

    def flip(folder: Path) -> str:
        shard = sorted(folder.glob("data/tabletop/*.parquet"))[0]
        data = bytearray(shard.read_bytes())
        data[len(data) // 3] ^= 0x10
        shard.write_bytes(bytes(data))
        return shard.name

    def truncate(folder: Path) -> str:
        shard = sorted(folder.glob("data/tabletop/*.parquet"))[-1]
        shard.write_bytes(shard.read_bytes()[:-1000])
        return shard.name

    def delete(folder: Path) -> str:
        shard = sorted(folder.glob("data/tabletop/*.parquet"))[0]
        shard.unlink()
        return shard.name

    def extra(folder: Path) -> str:
        shard = sorted(folder.glob("data/tabletop/*.parquet"))[0]
        copy = shard.with_name("test-00000-of-00099.parquet")
        shutil.copy(shard, copy)
        return copy.name

    def card(folder: Path) -> str:
        readme = folder / "README.md"
        text = readme.read_text()
        readme.write_text(text.replace(f"num_examples: {len(CASES)}", f"num_examples: {len(CASES) + 1}"))
        return "README.md"

    tally = Tally()
    for damage in (flip, truncate, delete, extra, card):
        copy = workdir / f"damaged-{damage.__name__}"
        shutil.copytree(split, copy)
        named = damage(copy)
        command = [sys.executable, "-m", "gsi_bench.cli", "eval", "--data", str(copy), "--editor", "oracle"]
        done = subprocess.run([*command, "--out", str(workdir / "r"), "--quiet"], capture_output=True, text=True)
        tally.cases += 1
        if "Traceback" in done.stderr or done.returncode not in (0, 2):
            tally.crashes += 1
        elif done.returncode == 0 or named not in done.stderr:
            tally.silent_wrong += 1  # scored a damaged dataset, or did not say which file
            print(f"  damaged dataset ({damage.__name__}): exit {done.returncode}, {done.stderr.strip()[:200]}")
    return tally


def _hostile_labels(split: Path, workdir: Path) -> Tally:
    """Leaderboard rows from runs with hostile labels: the tables keep their shape and carry no markup."""
    from gsi_bench.evaluation import leaderboard_markdown, load_runs, run_evaluation

    labels = ["a|b", "x\ny", "<script>alert(1)</script>", "[x](javascript:alert(1))", "![i](http://x)", "`*_~#"]
    base = workdir / "base"
    run_evaluation(split, "tabletop", "test", "identity", base, progress=False, limit=1)
    summary = json.loads((base / "summary.json").read_text())
    folders = []
    for index, label in enumerate(labels):
        folder = workdir / f"label{index}"
        folder.mkdir()
        summary["manifest"]["editor"] = label
        (folder / "summary.json").write_text(json.dumps(summary))
        folders.append(folder)
    tally = Tally(cases=len(labels))
    try:
        text = leaderboard_markdown(load_runs(folders))
    except Exception:  # noqa: BLE001
        tally.crashes = len(labels)
        return tally
    rows = [line for line in text.splitlines() if line.startswith("|")]
    widths = {line.count("|") - line.count("\\|") for line in rows[: 2 + len(labels)]}
    if len(widths) != 1 or any(bad in text for bad in ("<script", "](javascript:", "![i]")):
        tally.silent_wrong = len(labels)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    workdir = Path(args.out or tempfile.mkdtemp(prefix="gsi-bad-inputs-"))
    workdir.mkdir(parents=True, exist_ok=True)

    from gsi_bench.evaluation import run_evaluation
    from gsi_builders.writer import build_split

    split = workdir / "syn"
    build_split("tabletop", "test", len(CASES), seed=5, out_dir=split, workers=2, progress=False, shard_size=20)
    run_evaluation(split, "tabletop", "test", "oracle", workdir / "oracle", workers=2, progress=False)
    oracle = [json.loads(line) for line in (workdir / "oracle" / "samples.jsonl").read_text().splitlines()]
    oracle_scores = [(s["ic"], s["sa"], s["el"], s["ac"]) for s in oracle]

    report: dict[str, dict[str, Tally]] = {}
    for route, run in (("gsi-bench eval", _eval_run), ("evaluate module", _module_run)):
        statuses, scores, crash = run(split, workdir)
        tallies: dict[str, Tally] = {}
        if crash:
            print(f"{route} crashed: {crash}")
            for case in CASES:
                tally = tallies.setdefault(case.category, Tally())
                tally.cases += 1
                tally.crashes += 1
                tally.rows_lost += 1
        else:
            for line in _judge(tallies, statuses, oracle_scores, scores):
                print(f"  {route}: {line}")
        report[route] = tallies
    report["gsi-bench eval"]["damaged datasets"] = _damaged_datasets(split, workdir)
    report["leaderboard"] = {"hostile labels": _hostile_labels(split, workdir)}

    print("\n| route | category | cases | crashes | silent wrong scores | rows lost |")
    print("|---|---|---|---|---|---|")
    total = Tally()
    for route, tallies in report.items():
        for category, tally in tallies.items():
            counts = (tally.cases, tally.crashes, tally.silent_wrong, tally.rows_lost)
            print(f"| {route} | {category} | " + " | ".join(map(str, counts)) + " |")
            total.cases += tally.cases
            total.crashes += tally.crashes
            total.silent_wrong += tally.silent_wrong
            total.rows_lost += tally.rows_lost
    print(f"| all | | {total.cases} | {total.crashes} | {total.silent_wrong} | {total.rows_lost} |")


if __name__ == "__main__":
    main()
