"""``gsi-bench``: build GSI-Syn splits, inspect them, run and evaluate editors, compare results, validate the metrics.

Subcommands import their libraries lazily, so ``gsi-bench --help`` is instant and evaluation-side
commands never import the data builders.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _build(args: argparse.Namespace) -> int:
    if args.dataset == "real":
        return _build_real(args)
    from gsi_builders.writer import build_split
    from gsi_datasets.schema import SUBSETS

    default_size = SUBSETS[args.subset].default_size if args.subset in SUBSETS else 1
    common = {
        "subset": args.subset,
        "split": args.split,
        "num_samples": default_size if args.num_samples is None else args.num_samples,
        "operation_mix": _operation_mix(args.operations) if args.operations else None,
        "seed": args.seed,
        "out_dir": args.out,
        "shard_size": args.shard_size,
        "overwrite": args.overwrite,
        "progress": not args.quiet,
    }
    if args.engine == "ray":
        from gsi_builders.sharding import build_with_ray

        if args.num_shards is None or args.shard_index is not None:
            raise ValueError("--engine ray needs --num-shards N (the parts it runs) and no --shard-index")
        report = build_with_ray(**common, num_parts=args.num_shards, address=args.address)
    else:
        if (args.num_shards is None) != (args.shard_index is None):
            raise ValueError("--num-shards and --shard-index go together (this part of N), or --engine ray")
        part = (args.shard_index, args.num_shards) if args.num_shards is not None else None
        report = build_split(**common, workers=args.workers, wait=args.wait, part=part)
    rate = report.samples_generated_now / report.seconds if report.seconds else 0.0
    what = f"{report.num_samples} samples in {report.num_shards} shard(s)"
    if report.part is not None:
        what = f"part {report.part[0]} of {report.part[1]}, {len(report.shards)} of {report.num_shards} shard(s)"
    print(
        f"Wrote {args.subset}/{args.split}: {what} to {args.out}"
        f" ({report.samples_generated_now} generated now, {report.shards_resumed} shard(s) resumed;"
        f" {report.seconds:.1f} s, {rate:.2f} samples/s)"
    )
    if report.rejections:
        print("Rejected attempts by rule:")
        for reason, count in sorted(report.rejections.items(), key=lambda kv: -kv[1]):
            print(f"  {reason:<36} {count}")
    if report.part is not None:
        print(f"This is part {report.part[0]} of {report.part[1]}: join the parts with `gsi-bench merge PART ... --out "
              "DATASET`")  # fmt: skip
    else:
        print(f'Load it with: load_dataset("{args.out}", "{args.subset}", split="{args.split}")')
    return 0


def _merge(args: argparse.Namespace) -> int:
    from gsi_builders.sharding import merge_builds

    for report in merge_builds(args.parts, args.out, overwrite=args.overwrite, wait=args.wait):
        print(f"Merged {report.subset}/{report.split}: {report.num_samples} samples in {report.num_shards} shard(s) "
              f"from {len(args.parts)} part folder(s) into {args.out}")  # fmt: skip
    return 0


def _build_real(args: argparse.Namespace) -> int:
    from gsi_builders.real_candidates import REAL_OPERATIONS
    from gsi_builders.real_writer import build_real_candidates
    from gsi_datasets.real.frames import CaptureError

    if args.from_review is not None:
        import json

        from gsi_builders.real_writer import write_reviewed_split

        count, disagreements = write_reviewed_split(args.from_review, args.out, args.split)
        for sample_id, decisions in disagreements.items():
            print(f"Left out (reviewers disagree): {sample_id}: {json.dumps(decisions, sort_keys=True)}")
        print(f"Wrote real/{args.split}: {count} reviewed rows to {args.out}")
        print(f'Load it with: load_dataset("{args.out}", "real", split="{args.split}")')
        return 0
    if args.source is None:
        raise ValueError("build real needs --source rgbd:<folder> or <dataset>:<root> (e.g. scannetpp:/data/scannetpp)")
    out = args.out if args.out != "gsi-bench/syn" else "gsi-bench/real-candidates"
    operations = REAL_OPERATIONS if not args.operations or args.operations == ["all"] else args.operations
    try:
        judge = None
        if args.judge:
            from gsi_metrics.judge import create_judge

            judge = create_judge(args.judge, dict(_option(text, "--judge-option") for text in args.judge_option))
        elif args.rewrite:
            raise ValueError("--rewrite needs a judge: --judge openai-compatible:URL or transformers:MODEL")
        report = build_real_candidates(
            args.source, out, args.split, args.num_frames, args.frame_stride, args.seed, operations, args.scenes,
            progress=not args.quiet, judge=judge, rewrite=args.rewrite,
        )  # fmt: skip
    except CaptureError as error:
        raise ValueError(str(error)) from error
    print(
        f"Read {report.frames_read} frames of {args.source}, kept {report.frames_kept}; "
        f"{sum(report.candidates.values())} candidates in {out} ({dict(report.candidates)})"
    )
    for title, counts in (("Frames rejected", report.frame_rejections), ("Checks failed", report.check_rejections)):
        if counts:
            print(f"{title} by rule:")
            for reason, count in sorted(counts.items(), key=lambda kv: -kv[1]):
                print(f"  {reason:<44} {count}")
    for what, reason in report.unreadable.items():
        print(f"Unreadable: {what}: {reason}")
    if report.gate:
        print(f"Judge gate: {dict(report.gate)} (every decision in {out}/gate.jsonl)")
    print(f"Previews: {out}/previews/ (sheet.png); review them with: gsi-bench review {out}")
    return 0


def _review(args: argparse.Namespace) -> int:
    from gsi_bench.review import merge_reviews, review_server

    if args.merge:
        merged = merge_reviews(args.folder)
        print(
            f"{len(merged.reviewers)} reviewer(s) ({', '.join(merged.reviewers)}): {len(merged.accepted)} accepted, "
            f"{len(merged.rejected)} rejected, {len(merged.disagreements)} disagreement(s)"
        )
        for sample_id, decisions in merged.disagreements.items():
            print(f"  {sample_id}: " + "; ".join(f"{who} {d['status']}: {d['instruction']!r} ({d['category']})"
                                                 for who, d in sorted(decisions.items())))  # fmt: skip
        return 0
    server = review_server(args.folder, args.reviewer, args.port)
    print(f"Reviewing {args.folder} as {args.reviewer} at http://127.0.0.1:{server.server_port}/ (Ctrl-C to stop); "
          f"decisions are saved after every click to {server.RequestHandlerClass.store.path}", flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _operation_mix(items: list[str]) -> dict[str, float]:
    """``["camera_view_change", "object_rotate=0.25", ...]`` -> shares (unnamed ones split what is left equally);
    ``["all"]``: every operation that can be built, in equal shares."""
    if items == ["all"]:
        from gsi_builders.generate import buildable_operations

        items = buildable_operations()
    shares: dict[str, float | None] = {}
    for item in items:
        name, _, share = item.partition("=")
        try:
            shares[name] = float(share) if share else None
        except ValueError:
            raise ValueError(f"--operations: {item!r} is not NAME or NAME=SHARE") from None
    given = sum(v for v in shares.values() if v is not None)
    free = [name for name, share in shares.items() if share is None]
    return {name: (share if share is not None else (1.0 - given) / len(free)) for name, share in shares.items()}


def _verify(args: argparse.Namespace) -> int:
    from gsi_datasets.integrity import audit_dataset

    if args.rewrite_card:
        from gsi_builders.writer import rewrite_card

        print(f"Rewrote {rewrite_card(args.path)} from the build manifests")
    audit = audit_dataset(args.path, config=args.config, split=args.split)
    for problem in audit.problems:
        print(problem)
    if audit.problems:
        print(f"{len(audit.problems)} problem(s) found in {args.path}", file=sys.stderr)
        return 1
    print(f"OK: {audit.shards_verified} shards of {audit.splits_verified} splits verified")
    return 0


def _show(args: argparse.Namespace) -> int:
    from datasets import load_dataset

    from gsi_datasets.schema import OPERATIONS, operation_name
    from gsi_datasets.visualize import contact_sheet

    dataset = load_dataset(str(args.path), args.config, split=args.split)
    which = ""
    if args.operations:
        unknown = sorted(set(args.operations) - set(OPERATIONS))
        if unknown:
            raise ValueError(f"unknown operation(s) {', '.join(unknown)}; known: {', '.join(OPERATIONS)}")
        chosen = [i for i, value in enumerate(dataset["operation"]) if operation_name(value) in args.operations]
        if not chosen:
            raise ValueError(f"no sample of {args.config}/{args.split} has operation {' or '.join(args.operations)}")
        dataset = dataset.select(chosen)
        which = f" ({', '.join(args.operations)})"
    count = min(args.num, len(dataset))
    sheet = contact_sheet((dataset[i] for i in range(count)), columns=args.columns)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"Contact sheet of {count} samples of {args.config}/{args.split}{which}: {args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from gsi_bench.evaluation import load_eval_dataset
    from gsi_bench.reference_layout import export_reference_layout

    dataset = load_eval_dataset(args.data, args.config, args.split)
    rows = dataset if args.limit is None else dataset.select(range(min(args.limit, len(dataset))))
    counts = export_reference_layout(rows, args.out)
    for key, count in sorted(counts.items()):
        print(f"Wrote {count} edits of {args.config}/{args.split} to {Path(args.out) / key} (the reference's layout)")
    return 0


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    """The perception options of ``eval`` and ``validate``."""
    parser.add_argument("--backend", default="classical", help="perception backend (default: classical)")
    parser.add_argument(
        "--backend-option", action="append", default=[], metavar="KEY=VALUE", help="backend argument (repeatable)"
    )
    parser.add_argument(
        "--perception",
        choices=["auto", "render-compare", "scene-free", "features"],  # gsi_metrics.perception.classical (not imported)
        default=None,
        help="the classical backend's path: auto (default: render-and-compare with a row's stored scene, scene-free "
        "without one), render-compare, scene-free (how a photograph is scored) or features (SIFT and PnP only)",
    )


def _backend_config(args: argparse.Namespace) -> dict[str, Any]:
    """The perception backend's arguments: each ``--backend-option``, and ``--perception`` when given."""
    config = dict(_option(text, "--backend-option") for text in args.backend_option)
    if args.perception is not None:
        config["perception"] = args.perception
    return config


def _eval(args: argparse.Namespace) -> int:
    from gsi_bench.evaluation import leaderboard_markdown, load_run, run_evaluation

    out = args.out or Path("results") / _slug(args.editor)
    if (args.num_shards is None) != (args.shard_index is None):
        raise ValueError("--num-shards and --shard-index go together (score this part of N)")
    part = (args.shard_index, args.num_shards) if args.num_shards is not None else None
    summary = run_evaluation(
        data=args.data,
        config=args.config,
        split=args.split,
        editor=args.editor,
        editor_options=_editor_options(args),
        judge=args.judge,
        judge_options=dict(_option(text, "--judge-option") for text in args.judge_option),
        lpips=args.lpips,
        ac_features=args.ac_features,
        out_dir=out,
        profile=args.profile,
        backend=args.backend,
        limit=args.limit,
        workers=args.workers,
        progress=not args.quiet,
        backend_config=_backend_config(args),
        value_range=args.value_range,
        resume=not args.no_resume,
        part=part,
        merge_parts=args.merge_parts or (),
    )
    if part is not None:
        from gsi_bench.distributed import processes

        if processes().is_main:
            print(
                f"Scored part {part[0]} of {part[1]} into {out}; when every part is done: gsi-bench eval (the same "
                "arguments, without --num-shards / --shard-index) --merge-parts PART_FOLDER ... --out RESULTS"
            )
        return 0
    if summary is None:  # not the main process of an accelerate launch: the main one reports
        return 0
    files = summary.get("prediction_files", {})
    if files.get("unmatched") or files.get("duplicates"):
        print(
            f"warning: {files['unmatched']} file(s) in the editor folder were not scored and {files['duplicates']}"
            f" sample(s) have several files (see {out}/{files['details']}), e.g.:",
            *(f"  {example}" for example in files["examples"][:4]),
            sep="\n",
            file=sys.stderr,
        )
    for warning in summary.get("warnings", []):
        print(f"warning: {warning}", file=sys.stderr)
    manifest = summary["manifest"]
    for profile in manifest["profiles"]:
        print(leaderboard_markdown([load_run(out, profile)]))
    resumed = f", {manifest['resumed_rows']} resumed from an interrupted run" if manifest["resumed_rows"] else ""
    print(
        f"Scored {manifest['dataset']['num_scored']} samples with {args.editor} in {manifest['seconds']:.1f} s"
        f"{resumed}; results in {out}/summary.json and {out}/samples.jsonl"
    )
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from gsi_bench.evaluation import leaderboard_markdown, leaderboard_png, load_runs

    if args.html:  # first: the page shows every profile, also of runs not scored in --profile
        from gsi_bench.leaderboard_page import load_records, write_leaderboard_page

        print(f"Leaderboard page: {write_leaderboard_page(load_records(args.runs), args.html)}")
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
        backend_config=_backend_config(args),
        workers=args.workers,
        progress=not args.quiet,
        operation_mix=_operation_mix(args.operations) if args.operations else None,
        resume=args.resume,
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
    errors = counts["errors"]
    if errors:
        print(f"warning: {len(errors)} case(s) raised and were not measured (see report.md, Errors):", file=sys.stderr)
        for error in errors[:5]:
            print(f"  {error['sample_id']} {error['case']}: {error['message']}", file=sys.stderr)
    return 1 if args.strict and (failed_targets(report, "gsi") or errors) else 0


def _publish(uploads: Sequence[Any], args: argparse.Namespace) -> int:
    """Writes a push plan as a dry run, or pushes it; prints what it does."""
    from gsi_bench.hub import dry_run_lines, push, pushed_lines

    if args.dry_run:
        print(*dry_run_lines(uploads, args.dry_run), sep="\n")
        return 0
    for upload in uploads:
        for note in upload.notes:
            print(f"note: {note}", file=sys.stderr)
    print(*pushed_lines(push(uploads, private=getattr(args, "private", False))), sep="\n")
    return 0


def _push_dataset(args: argparse.Namespace) -> int:
    from gsi_bench.hub import dataset_upload

    framework = None if args.no_eval_yaml else args.evaluation_framework
    upload = dataset_upload(args.path, args.repo, preview_rows=args.preview_rows, evaluation_framework=framework)
    return _publish([upload], args)


def _push_metrics(args: argparse.Namespace) -> int:
    from gsi_bench.hub import metric_uploads

    dataset = args.dataset or f"{args.namespace}/gsi-syn"
    uploads = metric_uploads(args.namespace, dataset, config=args.config, split=args.split, modules=args.module)
    return _publish(uploads, args)


def _push_results(args: argparse.Namespace) -> int:
    from gsi_bench.hub import results_uploads

    uploads = results_uploads(
        args.path,
        args.model,
        dataset=args.dataset,
        dataset_revision=args.dataset_revision,
        results_dataset=args.results_dataset,
        create_pr=args.create_pr,
        model_index=args.model_index,
        allow_partial=args.allow_partial,
    )
    return _publish(uploads, args)


def _slug(spec: str) -> str:
    from gsi_bench.evaluation import editor_slug

    return editor_slug(spec)


def _option(text: str, flag: str) -> tuple[str, object]:
    """``KEY=VALUE`` of ``flag`` with the value read as YAML, so numbers, booleans and mappings keep their types."""
    import yaml

    key, separator, value = text.partition("=")
    if not separator or not key:
        raise ValueError(f"{flag} expects KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def _editor_options(args: argparse.Namespace) -> dict[str, Any]:
    return dict(_option(text, "--editor-option") for text in args.editor_option)


_EDITOR_HELP = (
    "identity, oracle, geometric, folder:PATH, python:MODULE:CALLABLE, diffusers:MODEL (Hub id or local folder), "
    "api:openai or api:http (see gsi_bench.editors)"
)


def _add_editor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--editor", required=True, help=_EDITOR_HELP)
    parser.add_argument(
        "--editor-option", action="append", default=[], metavar="KEY=VALUE", help="editor option (repeatable)"
    )


def _generate(args: argparse.Namespace) -> int:
    from gsi_bench.generation import run_generation

    out = args.out or Path("outputs") / _slug(args.editor)
    manifest = run_generation(
        args.data, args.config, args.split, args.editor, out, editor_options=_editor_options(args), limit=args.limit,
        overwrite=args.overwrite, progress=not args.quiet,
    )  # fmt: skip
    if manifest is None:  # not the main process of an accelerate launch
        return 0
    counts, run = manifest["counts"], manifest["this_run"]
    rate = f" ({run['samples_per_second']:.2f} samples/s)" if run["samples_per_second"] else ""
    print(
        f"Generated {run['edited']} sample(s) in {run['seconds']:.1f} s{rate} over {manifest['processes']} process(es);"
        f" {out} holds {counts['ok']} of {manifest['dataset']['num_rows']} images"
    )
    for failure in manifest["failures"][:5]:
        print(f"  {failure['sample_id']}: {failure['status']}: {failure['message']}", file=sys.stderr)
    failed = counts["failed"] + counts["unusable"]
    if failed:
        print(
            f"warning: {failed} sample(s) without an image (see {out}/generation.json); re-run to retry them",
            file=sys.stderr,
        )
    print(
        f"Score them: gsi-bench eval --data {args.data} --config {args.config} --split {args.split} "
        f"--editor folder:{out}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="gsi-bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="generate a dataset split")
    build.add_argument(
        "dataset", choices=["syn", "real"], help="GSI-Syn (simulated), or real: candidate edits of real captures"
    )
    build.add_argument("--subset", default="tabletop", help="subset / config name (default: tabletop)")
    build.add_argument("--split", default="test", help="train, validation or test (default: test)")
    build.add_argument(
        "--num-samples", type=int, default=None, help="number of edits (default: the subset's size, 600 / 593)"
    )
    build.add_argument(
        "--operations",
        nargs="+",
        metavar="NAME[=SHARE]",
        help="operations and shares instead of the subset's mix, e.g. camera_view_change (shares default to equal), "
        "or all",
    )
    build.add_argument("--seed", type=int, default=0, help="build seed (default: 0)")
    build.add_argument(
        "--out",
        default="gsi-bench/syn",
        help="dataset folder (default: gsi-bench/syn; real: gsi-bench/real-candidates)",
    )
    build.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    build.add_argument("--shard-size", type=int, default=50, help="samples per Parquet shard (default: 50)")
    spread = build.add_argument_group("builds on many machines (build syn; `gsi-bench merge` joins the parts)")
    spread.add_argument(
        "--num-shards", type=int, help="split the build into N parts (each: every N-th Parquet shard from its index)"
    )
    spread.add_argument("--shard-index", type=int, help="build only this part (0 .. N-1) into --out")
    spread.add_argument(
        "--engine", choices=["local", "ray"], default="local",
        help="local (default), or ray: the --num-shards parts as Ray tasks, merged into --out",
    )  # fmt: skip
    spread.add_argument("--address", help="the Ray cluster to use (default: start a local instance)")
    real = build.add_argument_group("real captures (build real)")
    real.add_argument("--source", help="rgbd:<folder>, or <dataset>:<root> of a scan dataset (scannetpp:/data/spp)")
    real.add_argument("--num-frames", type=int, default=211, help="frames to keep (default: 211, the paper's)")
    real.add_argument("--frame-stride", type=int, default=10, help="read one frame per N (default: 10)")
    real.add_argument("--scenes", nargs="+", help="only these scenes of a scan dataset (default: all)")
    real.add_argument("--judge", help="gate candidates with a judge: openai-compatible:URL or transformers:MODEL")
    real.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE", help="judge option")
    real.add_argument("--rewrite", action="store_true", help="let the judge rewrite instructions (numbers kept)")
    real.add_argument(
        "--from-review", metavar="CANDIDATES", help="write the reviewed candidates of this folder as the real config"
    )
    build.add_argument("--overwrite", action="store_true", help="replace an earlier build with other parameters")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.add_argument(
        "--wait", action="store_true", help="if another build holds the folder's lock, wait for it instead of refusing"
    )
    build.set_defaults(handler=_build)

    merge = commands.add_parser("merge", help="join the folders of part builds (--shard-index) into one dataset folder")
    merge.add_argument("parts", nargs="+", help="the parts' --out folders")
    merge.add_argument("--out", required=True, help="the dataset folder to write")
    merge.add_argument("--overwrite", action="store_true", help="replace an earlier build of a split with others")
    merge.add_argument("--wait", action="store_true", help="wait for another process holding --out's lock")
    merge.set_defaults(handler=_merge)

    review = commands.add_parser(
        "review", help="review real candidates in a local web page (accept / reject / fix), or merge the reviews"
    )
    review.add_argument("folder", help="a candidates folder (gsi-bench build real)")
    review.add_argument("--reviewer", default="reviewer", help="whose decisions (reviews/<name>.json)")
    review.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default: 8765; 0: any free one)")
    review.add_argument("--merge", action="store_true", help="merge every reviewer's file and list disagreements")
    review.set_defaults(handler=_review)

    verify = commands.add_parser(
        "verify", help="check a dataset folder: shard checksums, sizes and rows, stray shards, the card"
    )
    verify.add_argument("path", help="dataset folder")
    verify.add_argument("--config", default=None, help="only this config (default: all)")
    verify.add_argument("--split", default=None, help="only this split (default: all)")
    verify.add_argument(
        "--rewrite-card", action="store_true", help="first regenerate README.md from the build manifests"
    )
    verify.set_defaults(handler=_verify)

    show = commands.add_parser("show", help="write a contact sheet of a dataset split")
    show.add_argument("path", help="dataset folder or Hub repo id")
    show.add_argument("--config", default="tabletop", help="config name (default: tabletop)")
    show.add_argument("--split", default="test", help="split (default: test)")
    show.add_argument("--num", type=int, default=16, help="number of samples (default: 16)")
    show.add_argument("--columns", type=int, default=2, help="samples per sheet row (default: 2)")
    show.add_argument(
        "--operations", nargs="+", metavar="NAME", help="only samples of these operations (default: all), in order"
    )
    show.add_argument("--out", default="sheet.png", help="output PNG (default: sheet.png)")
    show.set_defaults(handler=_show)

    export = commands.add_parser(
        "export", help="write a split in the reference implementation's folder layout (its scripts read it)"
    )
    export.add_argument("--data", default="gsi-bench/syn", help="dataset folder or Hub id (default: gsi-bench/syn)")
    export.add_argument("--config", default="tabletop", help="config name (default: tabletop)")
    export.add_argument("--split", default="test", help="split (default: test)")
    export.add_argument("--limit", type=int, default=None, help="only the first N rows")
    export.add_argument("--out", default="reference_layout", help="output folder (default: reference_layout)")
    export.set_defaults(handler=_export)

    generate = commands.add_parser(
        "generate", help="run an editor on a split and write its images (resumable; accelerate launch for many GPUs)"
    )
    generate.add_argument("--data", default="gsi-bench/syn", help="dataset folder or Hub id (default: gsi-bench/syn)")
    generate.add_argument("--config", default="tabletop", help="config name (default: tabletop)")
    generate.add_argument("--split", default="test", help="split (default: test)")
    _add_editor_arguments(generate)
    generate.add_argument("--out", default=None, help="predictions folder (default: outputs/<editor>)")
    generate.add_argument("--limit", type=int, default=None, help="only the first N rows")
    generate.add_argument("--overwrite", action="store_true", help="replace another generation's outputs in --out")
    generate.add_argument("--quiet", action="store_true", help="no progress bar")
    generate.set_defaults(handler=_generate)

    evaluate = commands.add_parser("eval", help="run an editor on a split and score it")
    evaluate.add_argument("--data", default="gsi-bench/syn", help="dataset folder or Hub id (default: gsi-bench/syn)")
    evaluate.add_argument("--config", default="tabletop", help="config name (default: tabletop)")
    evaluate.add_argument("--split", default="test", help="split (default: test)")
    _add_editor_arguments(evaluate)
    evaluate.add_argument("--out", default=None, help="results folder (default: results/<editor>)")
    evaluate.add_argument(
        "--profile", choices=["gsi", "paper", "both"], default="gsi", help="scoring profile (default: gsi)"
    )
    _add_backend_options(evaluate)
    evaluate.add_argument("--limit", type=int, default=None, help="score only the first N rows")
    evaluate.add_argument("--workers", type=int, default=1, help="processes scoring rows (default: 1)")
    evaluate.add_argument(
        "--value-range",
        choices=["auto", "0-1", "-1-1", "0-255", "0-65535"],  # gsi_metrics.predictions.VALUE_RANGES (not imported: cv2)
        default="auto",
        help="value range of array predictions (default: auto, from the dtype and the values; see the README)",
    )
    evaluate.add_argument(
        "--judge",
        default=None,
        help="a multimodal judge for AC: openai-compatible:URL (e.g. a vLLM server's http://HOST:8000/v1) or "
        "transformers:MODEL (default: none, the weight-free AC)",
    )
    evaluate.add_argument(
        "--judge-option", action="append", default=[], metavar="KEY=VALUE", help="judge option (repeatable)"
    )
    evaluate.add_argument(
        "--lpips",
        default=None,
        metavar="MODULE:FACTORY",
        help="a masked learned distance (LPIPS) for profile paper's locality gate and EL: the import path of a factory "
        "returning distance(source, edited, outside_mask) (default: none, SSIM alone)",
    )
    evaluate.add_argument(
        "--ac-features",
        default=None,
        metavar="SOURCE",
        help="an image encoder for AC: hf-hub:<id> or local-dir:<path> (e.g. hf-hub:facebook/dinov2-small; default: "
        "none, the weight-free AC)",
    )
    evaluate.add_argument(
        "--no-resume", action="store_true", help="re-score every row instead of resuming an interrupted run"
    )
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    parts = evaluate.add_argument_group("scoring on many machines")
    parts.add_argument("--num-shards", type=int, help="split the rows into N parts (row i is in part i %% N)")
    parts.add_argument("--shard-index", type=int, help="score only this part (0 .. N-1); no summary until merged")
    parts.add_argument(
        "--merge-parts", nargs="+", metavar="FOLDER", help="results folders of the parts: merged into --out"
    )
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
    validate.add_argument(
        "--operations",
        nargs="+",
        metavar="NAME[=SHARE]",
        help="generated test scenes: operations and shares instead of the config's mix (as for build)",
    )
    _add_backend_options(validate)
    validate.add_argument("--workers", type=int, default=1, help="processes (default: 1)")
    validate.add_argument("--history", default=None, help="append the headline numbers to this Markdown file")
    validate.add_argument("--note", default="", help="note for the history line")
    validate.add_argument("--strict", action="store_true", help="exit 1 when a gsi target is missed")
    validate.add_argument("--quiet", action="store_true", help="no progress bar")
    validate.add_argument(
        "--resume",
        action="store_true",
        help="keep the scenes an earlier run with the same options wrote into --out, validate the rest",
    )
    validate.set_defaults(handler=_validate)

    leaderboard = commands.add_parser("leaderboard", help="compare results folders in Markdown tables and a chart")
    leaderboard.add_argument("runs", nargs="+", help="results folders written by eval (e.g. results/*)")
    leaderboard.add_argument("--profile", choices=["gsi", "paper"], default="gsi", help="profile (default: gsi)")
    leaderboard.add_argument("--out", default=None, help="also write the Markdown to this file")
    leaderboard.add_argument("--plot", default=None, help="write a PNG bar chart per axis and operation")
    leaderboard.add_argument(
        "--html", default=None, metavar="DIR", help="write a static leaderboard page of every profile to DIR/index.html"
    )
    leaderboard.set_defaults(handler=_leaderboard)
    _add_push_parser(commands)
    return parser


def _add_push_parser(commands: Any) -> None:
    """``gsi-bench push dataset|metrics|results`` (see :mod:`gsi_bench.hub`)."""
    push = commands.add_parser("push", help="publish to the Hugging Face Hub: the dataset, the metric Spaces, results")
    targets = push.add_subparsers(dest="push_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dry-run",
        metavar="DIR",
        default=None,
        help="write the files of each repository to DIR/<datasets|spaces|models>/OWNER/NAME/ instead of pushing",
    )

    dataset = targets.add_parser(
        "dataset", parents=[common], help="a verified dataset folder: shards, manifests, card, preview, eval.yaml"
    )
    dataset.add_argument("path", help="dataset folder written by `gsi-bench build`")
    dataset.add_argument("--repo", required=True, help="dataset repository OWNER/NAME (e.g. my-org/gsi-syn)")
    dataset.add_argument("--preview-rows", type=int, default=4, help="samples per preview contact sheet (default: 4)")
    dataset.add_argument(
        "--evaluation-framework", default="gsi-bench", help="evaluation_framework of eval.yaml (default: gsi-bench)"
    )
    dataset.add_argument("--no-eval-yaml", action="store_true", help="do not register the dataset as a benchmark")
    dataset.add_argument("--private", action="store_true", help="create the repository as private")
    dataset.set_defaults(handler=_push_dataset)

    metrics = targets.add_parser(
        "metrics", parents=[common], help="each evaluate module as a Gradio Space NAMESPACE/<module>"
    )
    metrics.add_argument("--namespace", required=True, help="user or organisation owning the Spaces")
    metrics.add_argument(
        "--dataset", default=None, help="Hub dataset the apps score against (default: NAMESPACE/gsi-syn)"
    )
    metrics.add_argument("--config", default="tabletop", help="its config (default: tabletop)")
    metrics.add_argument("--split", default="test", help="its split (default: test)")
    metrics.add_argument(
        "--module", action="append", default=None, help="only this module (repeatable; default: all five)"
    )
    metrics.add_argument("--private", action="store_true", help="create the Spaces as private")
    metrics.set_defaults(handler=_push_metrics)

    results = targets.add_parser(
        "results", parents=[common], help="a results folder: the model's .eval_results and a results dataset"
    )
    results.add_argument("path", help="results folder written by `gsi-bench eval`")
    results.add_argument("--model", required=True, help="model repository OWNER/NAME the results belong to")
    results.add_argument(
        "--dataset", default=None, help="Hub dataset the run scored (default: the run's own, when loaded from the Hub)"
    )
    results.add_argument("--dataset-revision", default=None, help="its revision (commit hash), recorded with results")
    results.add_argument(
        "--results-dataset", default=None, help="also add the run records to this dataset OWNER/NAME (leaderboard)"
    )
    results.add_argument(
        "--create-pr",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open pull requests (default); --no-create-pr commits to main and creates missing repositories",
    )
    results.add_argument("--model-index", action="store_true", help="also write the legacy model-index of the card")
    results.add_argument(
        "--allow-partial", action="store_true", help="publish a run that scored only part of the split (--limit)"
    )
    results.set_defaults(handler=_push_results)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gsi-bench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        code = args.handler(args)
    except (ValueError, FileNotFoundError, KeyError, ImportError) as error:  # BuildError is a ValueError
        # KeyError's str() quotes its message; registries put the whole message in args[0].
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"gsi-bench {args.command}: error: {message}", file=sys.stderr)
        return 2
    if "WORLD_SIZE" in os.environ:  # under accelerate launch / torchrun: end the process group together
        from gsi_bench.distributed import processes

        processes().finish()
    return code


if __name__ == "__main__":
    sys.exit(main())
