"""Concurrent builds into one folder: two `gsi-bench build` processes started at once must never mix.

Usage: python benchmarks/concurrent_builds.py [--trials 20] [--num-samples 4] [--shard-size 2]

Each trial starts two real ``gsi-bench build`` processes at the same moment into a fresh folder, cycling
through four scenarios: the same seed twice; two seeds; a build and an ``--overwrite`` with another seed;
a ``--wait`` build and a ``--wait --overwrite`` with another seed. Per trial and in total it prints how
each process ended (refused by the lock; waited for the lock; refused because the folder then holds a
build with other parameters; succeeded) and whether the folder then holds one consistent build:
``verify_dataset`` finds nothing, every row comes from one seed (one that a successful process asked
for), and the row count is ``--num-samples``. Finally a build is killed (SIGKILL) after its first shard
and resumed, and its shards are compared byte for byte with an uninterrupted build.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq  # noqa: E402

from gsi_datasets.integrity import read_manifests, verify_dataset  # noqa: E402

#: (name, (seed, extra arguments) of the first and the second process).
SCENARIOS: list[tuple[str, tuple[tuple[int, tuple[str, ...]], ...]]] = [
    ("same seed", ((0, ()), (0, ()))),
    ("two seeds", ((0, ()), (1, ()))),
    ("build + overwrite", ((0, ()), (1, ("--overwrite",)))),
    ("wait + wait overwrite", ((0, ("--wait",)), (1, ("--wait", "--overwrite")))),
]


@dataclass(frozen=True)
class Outcome:
    """How one build process ended."""

    seed: int
    returncode: int
    stderr: str

    @property
    def kind(self) -> str:
        """How the process ended.

        ``succeeded``, ``refused (locked)``, ``refused (other parameters)`` (the other build finished first and
        this one has no ``--overwrite``) or ``failed``; prefixed ``waited, then`` when it queued for the lock.
        """
        waited = "waited, then " if "waiting for it to finish" in self.stderr else ""
        if self.returncode == 0:
            return f"{waited}succeeded"
        if self.returncode == 2 and "other parameters" in self.stderr:
            return f"{waited}refused (other parameters)"
        if self.returncode == 2 and "is locked by another gsi-bench process" in self.stderr:
            return "refused (locked)"
        return "failed"


def build_command(out: Path, seed: int, num_samples: int, shard_size: int, *extra: str) -> list[str]:
    """A ``gsi-bench build`` command line (run with this interpreter)."""
    return [
        sys.executable,
        "-m",
        "gsi_bench.cli",
        "build",
        "syn",
        "--num-samples",
        str(num_samples),
        "--seed",
        str(seed),
        "--shard-size",
        str(shard_size),
        "--workers",
        "1",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def build_seeds(folder: Path) -> set[int]:
    """Build seeds of every row (sample ids read ``syn-<subset>-<split>-s<seed>-<index>``)."""
    seeds = set()
    for shard in folder.glob("data/*/*.parquet"):
        for sample_id in pq.read_table(shard, columns=["sample_id"]).column("sample_id").to_pylist():
            seeds.add(int(re.search(r"-s(\d+)-", sample_id).group(1)))
    return seeds


def consistency(folder: Path, outcomes: list[Outcome], num_samples: int) -> str:
    """``"yes"``, or what is inconsistent about the folder after a trial."""
    problems = verify_dataset(folder)
    if problems:
        return f"no: {len(problems)} problem(s), e.g. {problems[0]}"
    seeds = build_seeds(folder)
    rows = sum(pq.ParquetFile(shard).metadata.num_rows for shard in folder.glob("data/*/*.parquet"))
    succeeded = {outcome.seed for outcome in outcomes if outcome.returncode == 0}
    if len(seeds) != 1 or not seeds <= succeeded:
        return f"no: rows of seeds {sorted(seeds)}, successful builds asked for {sorted(succeeded)}"
    if rows != num_samples:
        return f"no: {rows} rows, expected {num_samples}"
    return "yes"


def run_trial(folder: Path, scenario: int, num_samples: int, shard_size: int) -> tuple[list[Outcome], str]:
    """Starts the scenario's two builds at once into ``folder``; returns their outcomes and the folder's state."""
    _, processes = SCENARIOS[scenario]
    started = []
    for seed, extra in processes:
        command = build_command(folder, seed, num_samples, shard_size, *extra)
        started.append((seed, subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    outcomes = []
    for seed, process in started:
        _, stderr = process.communicate()
        outcomes.append(Outcome(seed, process.returncode, stderr.decode()))
    return outcomes, consistency(folder, outcomes, num_samples)


def kill_and_resume(root: Path, num_samples: int, shard_size: int) -> str:
    """Kills a build after its first recorded shard, resumes it, and compares it with an uninterrupted one."""
    reference, killed = root / "reference", root / "killed"
    quiet = {"stdout": subprocess.DEVNULL}
    subprocess.run(build_command(reference, 0, num_samples, shard_size), check=True, **quiet)
    process = subprocess.Popen(build_command(killed, 0, num_samples, shard_size), start_new_session=True, **quiet)
    manifest = killed / ".gsi_build" / "tabletop-test.json"
    while process.poll() is None and not (manifest.exists() and json.loads(manifest.read_text())["shards"]):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = len(json.loads(manifest.read_text())["shards"])
    total = -(-num_samples // shard_size)
    subprocess.run(build_command(killed, 0, num_samples, shard_size), check=True, **quiet)

    def shard_bytes(folder: Path) -> dict[str, bytes]:
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.glob("data/*/*.parquet"))}

    identical = shard_bytes(killed) == shard_bytes(reference)
    same_records = read_manifests(killed)[0]["shards"] == read_manifests(reference)[0]["shards"]
    size = sum(len(data) for data in shard_bytes(killed).values())
    return (
        f"killed after {done}/{total} shard(s), resumed: shards byte-identical {'yes' if identical else 'NO'}, "
        f"manifest checksums identical {'yes' if same_records else 'NO'}, verify_dataset "
        f"{'[]' if not verify_dataset(killed) else 'found problems'} ({total} shards, {size} bytes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--num-samples", type=int, default=4)
    parser.add_argument("--shard-size", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    totals: Counter[str] = Counter()
    consistent = 0
    started = time.perf_counter()
    print(f"{args.trials} trials, 2 builds each, {args.num_samples} samples in shards of {args.shard_size}")
    with tempfile.TemporaryDirectory() as root:
        for trial in range(args.trials):
            scenario = trial % len(SCENARIOS)
            folder = Path(root) / f"trial-{trial:03d}" / "syn"
            trial_started = time.perf_counter()
            outcomes, state = run_trial(folder, scenario, args.num_samples, args.shard_size)
            totals.update(outcome.kind for outcome in outcomes)
            consistent += state == "yes"
            kinds = ", ".join(f"seed {outcome.seed}: {outcome.kind}" for outcome in outcomes)
            print(
                f"trial {trial + 1:>3} {SCENARIOS[scenario][0]:<22} {kinds:<76} one consistent build: {state}"
                f" ({time.perf_counter() - trial_started:.1f} s)"
            )
            for outcome in outcomes:
                if outcome.kind == "failed":
                    print(f"    unexpected failure of seed {outcome.seed}:\n{outcome.stderr}")
        print()
        print(f"processes: {sum(totals.values())}; " + ", ".join(f"{kind} {n}" for kind, n in sorted(totals.items())))
        summary = {word: sum(n for kind, n in totals.items() if word in kind) for word in ("refused", "waited")}
        print(
            f"refused {summary['refused']}, waited {summary['waited']}, succeeded {totals['succeeded']}"
            f" (+ {totals['waited, then succeeded']} after waiting), failed {totals['failed']}"
        )
        print(f"folders holding one consistent build: {consistent}/{args.trials}")
        print(f"kill and resume: {kill_and_resume(Path(root), args.num_samples, args.shard_size)}")
    print(f"total time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
