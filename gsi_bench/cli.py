"""``gsi-bench``: build GSI-Syn splits, inspect them, evaluate editors, compare results, validate the metrics.

Subcommands import their libraries lazily, so ``gsi-bench --help`` is instant and evaluation-side
commands never import the data builders.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from builders.writer import build_split

    report = build_split(
        subset=args.subset,
        split=args.split,
        num_samples=args.num_samples,
        seed=args.seed,
        out_dir=args.out,
        workers=args.workers,
        shard_size=args.shard_size,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    rate = report.samples_generated_now / report.seconds if report.seconds else 0.0
    print(
        f"Wrote {args.subset}/{args.split}: {report.num_samples} samples in {report.num_shards} shard(s) to {args.out}"
        f" ({report.samples_generated_now} generated now, {report.shards_resumed} shard(s) resumed;"
        f" {report.seconds:.1f} s, {rate:.2f} samples/s)"
    )
    if report.rejections:
        print("Rejected attempts by rule:")
        for reason, count in sorted(report.rejections.items(), key=lambda kv: -kv[1]):
            print(f"  {reason:<36} {count}")
    print(f'Load it with: load_dataset("{args.out}", "{args.subset}", split="{args.split}")')
    return 0


def _show(args: argparse.Namespace) -> int:
    from datasets import load_dataset

    from gsi_datasets.visualize import contact_sheet

    dataset = load_dataset(str(args.path), args.config, split=args.split)
    count = min(args.num, len(dataset))
    sheet = contact_sheet((dataset[i] for i in range(count)), columns=args.columns)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"Contact sheet of {count} samples of {args.config}/{args.split}: {args.out}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from gsi_bench.evaluation import leaderboard_markdown, load_run, run_evaluation

    out = args.out or Path("results") / _slug(args.editor)
    backend_config = dict(_option(text) for text in args.backend_option)
    summary = run_evaluation(
        data=args.data,
        config=args.config,
        split=args.split,
        editor=args.editor,
        out_dir=out,
        profile=args.profile,
        backend=args.backend,
        limit=args.limit,
        workers=args.workers,
        progress=not args.quiet,
        backend_config=backend_config,
    )
    unmatched = summary.get("unmatched_prediction_files", {})
    if unmatched.get("count"):
        print(
            f"warning: {unmatched['count']} image file(s) in the editor folder match no sample id and were not "
            f"scored, e.g. {', '.join(unmatched['examples'][:3])}",
            file=sys.stderr,
        )
    manifest = summary["manifest"]
    for profile in manifest["profiles"]:
        print(leaderboard_markdown([load_run(out, profile)]))
    print(
        f"Scored {manifest['dataset']['num_scored']} samples with {args.editor} in {manifest['seconds']:.1f} s"
        f" ({manifest['seconds_per_sample']:.2f} s/sample); results in {out}/summary.json and {out}/samples.jsonl"
    )
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from gsi_bench.evaluation import leaderboard_markdown, leaderboard_png, load_runs

    runs = load_runs(args.runs, args.profile)
    table = leaderboard_markdown(runs)
    print(table, end="")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)
        print(f"Leaderboard: {args.out}")
    if args.plot:
        print(f"Chart: {leaderboard_png(runs, args.plot)}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from gsi_bench.fidelity.report import append_history, failed_targets
    from gsi_bench.fidelity.suite import run_validation

    report = run_validation(
        out=args.out,
        num_scenes=args.num_scenes,
        config=args.config,
        data=args.data,
        split=args.split,
        seed=args.seed,
        backend=args.backend,
        backend_config=dict(_option(text) for text in args.backend_option),
        workers=args.workers,
        progress=not args.quiet,
    )
    if args.history:
        append_history(report, args.history, args.note)
    counts = report["counts"]
    print(f"Validated {counts['scenes']} scenes, {counts['cases']} counterfactual cases: {args.out}/report.md")
    for profile in ("gsi", "paper"):
        failed = failed_targets(report, profile)
        total = len(report["targets"][profile])
        print(f"profile {profile}: {total - len(failed)}/{total} targets hold")
        for target in failed if profile == "gsi" else []:
            print(f"  missed: {target['name']} = {target['value']:.3f} (bound {target['threshold']})")
    return 1 if args.strict and failed_targets(report, "gsi") else 0


def _slug(spec: str) -> str:
    """A folder name for an editor spec (``folder:out/model-a`` -> ``folder-model-a``)."""
    name, _, argument = spec.partition(":")
    return f"{name}-{Path(argument).name}" if argument else name


def _option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with the value read as YAML, so numbers and booleans keep their types."""
    import yaml

    key, separator, value = text.partition("=")
    if not separator or not key:
        raise ValueError(f"--backend-option expects KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="gsi-bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="generate a dataset split")
    build.add_argument("dataset", choices=["syn"], help="which dataset to build (GSI-Syn)")
    build.add_argument("--subset", default="tabletop", help="subset / config name (default: tabletop)")
    build.add_argument("--split", default="test", help="train, validation or test (default: test)")
    build.add_argument("--num-samples", type=int, default=200, help="number of edits (default: 200)")
    build.add_argument("--seed", type=int, default=0, help="build seed (default: 0)")
    build.add_argument("--out", default="gsi-bench/syn", help="dataset folder (default: gsi-bench/syn)")
    build.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    build.add_argument("--shard-size", type=int, default=50, help="samples per Parquet shard (default: 50)")
    build.add_argument("--overwrite", action="store_true", help="replace an earlier build with other parameters")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(handler=_build)

    show = commands.add_parser("show", help="write a contact sheet of a dataset split")
    show.add_argument("path", help="dataset folder or Hub repo id")
    show.add_argument("--config", default="tabletop", help="config name (default: tabletop)")
    show.add_argument("--split", default="test", help="split (default: test)")
    show.add_argument("--num", type=int, default=16, help="number of samples (default: 16)")
    show.add_argument("--columns", type=int, default=2, help="samples per sheet row (default: 2)")
    show.add_argument("--out", default="sheet.png", help="output PNG (default: sheet.png)")
    show.set_defaults(handler=_show)

    evaluate = commands.add_parser("eval", help="run an editor on a split and score it")
    evaluate.add_argument("--data", default="gsi-bench/syn", help="dataset folder or Hub id (default: gsi-bench/syn)")
    evaluate.add_argument("--config", default="tabletop", help="config name (default: tabletop)")
    evaluate.add_argument("--split", default="test", help="split (default: test)")
    evaluate.add_argument(
        "--editor", required=True, help="identity, oracle, geometric or folder:PATH (see gsi_bench.editors)"
    )
    evaluate.add_argument("--out", default=None, help="results folder (default: results/<editor>)")
    evaluate.add_argument(
        "--profile", choices=["gsi", "paper", "both"], default="gsi", help="scoring profile (default: gsi)"
    )
    evaluate.add_argument("--backend", default="classical", help="perception backend (default: classical)")
    evaluate.add_argument(
        "--backend-option", action="append", default=[], metavar="KEY=VALUE", help="backend argument (repeatable)"
    )
    evaluate.add_argument("--limit", type=int, default=None, help="score only the first N rows")
    evaluate.add_argument("--workers", type=int, default=1, help="processes scoring rows (default: 1)")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(handler=_eval)

    validate = commands.add_parser(
        "validate", help="metric fidelity suite: score counterfactual edits with known 3D truth (report.md/json, plots)"
    )
    validate.add_argument("--config", default="tabletop", help="config name (default: tabletop)")
    validate.add_argument("--num-scenes", type=int, default=100, help="test scenes (rows) to use (default: 100)")
    validate.add_argument("--out", default="fidelity", help="report folder (default: fidelity)")
    validate.add_argument(
        "--data", default=None, help="a built GSI-Syn folder or Hub id (default: generate the test scenes in memory)"
    )
    validate.add_argument("--split", default="test", help="split of --data (default: test)")
    validate.add_argument("--seed", type=int, default=0, help="seed of the generated test scenes (default: 0)")
    validate.add_argument("--backend", default="classical", help="perception backend (default: classical)")
    validate.add_argument(
        "--backend-option", action="append", default=[], metavar="KEY=VALUE", help="backend argument (repeatable)"
    )
    validate.add_argument("--workers", type=int, default=1, help="processes (default: 1)")
    validate.add_argument("--history", default=None, help="append the headline numbers to this Markdown file")
    validate.add_argument("--note", default="", help="note for the history line")
    validate.add_argument("--strict", action="store_true", help="exit 1 when a gsi target is missed")
    validate.add_argument("--quiet", action="store_true", help="no progress bar")
    validate.set_defaults(handler=_validate)

    leaderboard = commands.add_parser("leaderboard", help="compare results folders in Markdown tables and a chart")
    leaderboard.add_argument("runs", nargs="+", help="results folders written by eval (e.g. results/*)")
    leaderboard.add_argument("--profile", choices=["gsi", "paper"], default="gsi", help="profile (default: gsi)")
    leaderboard.add_argument("--out", default=None, help="also write the Markdown to this file")
    leaderboard.add_argument("--plot", default=None, help="write a PNG bar chart per axis and operation")
    leaderboard.set_defaults(handler=_leaderboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gsi-bench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError, KeyError) as error:  # BuildError is a ValueError
        # KeyError's str() quotes its message; registries put the whole message in args[0].
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"gsi-bench {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
