"""Hugging Face Space: the GSI-Bench leaderboard page over a results dataset.

The dataset (the Space variable ``RESULTS_DATASET``, a dataset repo id) holds one JSON run record per run and
profile under ``runs/``, as ``gsi-bench push results`` writes them. The app downloads them and shows the same
static page as ``gsi-bench leaderboard --html`` (in an iframe); "Reload" downloads them again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gradio as gr

from gsi_bench.leaderboard_page import download_records, iframe_html

#: The results dataset shown when the Space sets no ``RESULTS_DATASET`` variable.
DEFAULT_RESULTS_DATASET = "gsi-bench/results"


def build_app(load_records: Callable[[], Sequence[Mapping[str, Any]]], source: str) -> gr.Blocks:
    """The Gradio app: the leaderboard page of ``load_records()`` (called on each page load and on "Reload").

    Args:
        load_records: returns the run records to show.
        source: where they come from, shown under the title (e.g. the dataset repo id).
    """

    def render() -> str:
        return iframe_html(load_records())

    with gr.Blocks(title="GSI-Bench leaderboard") as app:
        with gr.Row():
            gr.Markdown(f"Results from `{source}`; every run links its manifest (click its name).")
            reload = gr.Button("Reload", scale=0)
        page = gr.HTML()
        app.load(render, outputs=page)
        reload.click(render, outputs=page)
    return app


if __name__ == "__main__":
    repo_id = os.environ.get("RESULTS_DATASET", DEFAULT_RESULTS_DATASET)
    build_app(lambda: download_records(repo_id), repo_id).launch()
