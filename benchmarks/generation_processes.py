"""`gsi-bench generate` with a tiny random InstructPix2Pix pipeline (tests/tiny_models.py) on one split: 1 and 2
`accelerate launch` processes (are the images identical?), a run killed part-way and resumed (how many rows were
edited twice?), then `eval` of the folder. Prints each figure with the machine's core count. The pipeline is tiny
and random: these are the harness's figures, not a real model's.

Usage: python benchmarks/generation_processes.py --data gsi-bench/syn [--config tabletop] [--limit 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tiny_models import tiny_instruct_pix2pix  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="gsi-bench/syn")
    parser.add_argument("--config", default="tabletop")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    launcher = [str(Path(sys.executable).parent / "accelerate"), "launch", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = tiny_instruct_pix2pix(work / "tiny-instruct-pix2pix")
        generate = ["-m", "gsi_bench", "generate", "--data", str(args.data), "--config", args.config, "--limit",
                    str(args.limit), "--editor", f"diffusers:{model}", "--editor-option", f"steps={args.steps}",
                    "--quiet"]  # fmt: skip
        images = {}
        print(f"rows={args.limit} cpus={os.cpu_count()} OMP_NUM_THREADS=1 steps={args.steps}")
        for processes in (1, 2):
            out = work / f"p{processes}"
            flags = ["--num_processes", "1"] if processes == 1 else ["--multi_gpu", "--num_processes", "2"]
            start = time.perf_counter()
            subprocess.run([*launcher, *flags, *generate, "--out", str(out)], cwd=ROOT, env=environment, check=True,
                           capture_output=True)  # fmt: skip
            seconds = time.perf_counter() - start
            manifest = json.loads((out / "generation.json").read_text())
            images[processes] = {p.name: p.read_bytes() for p in out.glob("*.png")}
            print(f"{processes} process(es)  {seconds:6.1f} s wall (with start-up and loading), "
                  f"{manifest['this_run']['samples_per_second']:.2f} samples/s in the loop, "
                  f"{manifest['counts']['ok']} images")  # fmt: skip
        same = images[1] == images[2]
        print(f"identical images, 1 vs 2 processes: {same} ({len(images[1])} files)")

        out = work / "killed"
        command = [sys.executable, *generate, "--out", str(out)]
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stderr=subprocess.DEVNULL)
        while len(list(out.glob("*.png"))) < args.limit // 2 and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        before = len(list(out.glob("*.png")))
        subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True)
        log = [json.loads(line) for line in (out / "generation_log.0.jsonl").read_text().splitlines()]
        attempts = {entry["sample_id"] for entry in log}
        print(
            f"killed after {before} images; resumed: {len(log) - before} more edited, "
            f"{len(log) - len(attempts)} edited twice, {len(list(out.glob('*.png')))} images, "
            f"identical to the 1-process run: {images[1] == {p.name: p.read_bytes() for p in out.glob('*.png')}}"
        )

        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "gsi_bench", "eval", "--data", str(args.data), "--config",
                               args.config, "--limit", str(args.limit), "--editor", f"folder:{work / 'p2'}", "--out",
                               str(work / "results"), "--quiet"], cwd=ROOT, env=environment, capture_output=True,
                              text=True, check=True)  # fmt: skip
        summary = json.loads((work / "results" / "summary.json").read_text())
        print(f"eval of the 2-process folder: {summary['num_samples']} rows in {time.perf_counter() - start:.1f} s, "
              f"statuses {summary['status_counts']}, generation manifest recorded: "
              f"{'generation' in summary['manifest']}")  # fmt: skip
        print(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
