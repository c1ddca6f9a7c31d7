"""The leaderboard as a static web page: ``gsi-bench leaderboard results/* --html DIR`` and the leaderboard Space.

The page is one self-contained ``index.html`` that opens from ``file://``: its CSS and JavaScript are inline
(``templates/leaderboard/``), its charts are inline SVG drawn in the browser, and a Content-Security-Policy
allows only those two inline blocks (by hash), so the page can load nothing from the network. The data is
:func:`gsi_bench.evaluation.run_record` rows, one per run and profile, embedded as JSON
(:func:`json_for_script`); the page draws, per subset (config/split) and scope (overall, then each
operation), a sortable table of IC / SA / EL / AC / Avg with 95% intervals and a bar chart with interval
whiskers, a switch between the profiles the runs were scored in, and a run's manifest on click. User text
(labels, paths) only ever reaches the page as JSON and is set as text (``textContent``), never parsed as HTML.

Records come from results folders (:func:`load_records`) or from a results dataset on the Hub, one JSON
file per run and profile under ``runs/`` (:func:`read_records`, :func:`download_records`); the Space app in
``spaces/leaderboard/`` serves the same page (:func:`iframe_html`).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from gsi_bench.evaluation import COLUMNS, PALETTE, RECORD_SCHEMA_VERSION, load_runs, run_records
from gsi_metrics.operations import PROFILES
from gsi_metrics.scoring import AXES

#: The page, its style sheet and its script (inlined into the page).
TEMPLATE_DIR = Path(__file__).parent / "templates" / "leaderboard"
PAGE_FILE = "index.html"
#: Folder of a results dataset that holds the records, one JSON file per run and profile (any depth).
RECORDS_FOLDER = "runs"
#: Keys every record has (see :func:`gsi_bench.evaluation.run_record`).
RECORD_KEYS = frozenset({"schema_version", "model", "label", "config", "split", "profile", "overall", "manifest"})
#: Characters that could end the ``<script>`` element holding the data or start markup inside it; JSON reads
#: the escapes back as the same characters. U+2028/U+2029 end lines in older JavaScript parsers.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_PLACEHOLDER = re.compile(r"__(CSP|STYLE|SCRIPT|DATA)__")


def load_records(paths: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """:func:`~gsi_bench.evaluation.run_records` of results folders in every profile each was scored in.

    A record's ``model`` is the run's leaderboard label (the editor spec, with the folder when two runs share
    it, as :func:`~gsi_bench.evaluation.load_runs` tells them apart); ``label`` stays the editor spec.

    Raises:
        FileNotFoundError, ValueError: a folder without a readable ``summary.json``.
    """
    return [record for run in load_runs(paths, profile=None) for record in run_records(run.path, model=run.label)]


def read_records(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a results dataset folder: every ``runs/**/*.json`` file, in path order.

    Raises:
        FileNotFoundError: the folder has no ``runs/`` folder.
        ValueError: a file is not valid JSON, not a record, or of a newer record schema; the message names it.
    """
    root = Path(folder) / RECORDS_FOLDER
    if not root.is_dir():
        raise FileNotFoundError(
            f"{Path(folder)} has no {RECORDS_FOLDER}/ folder of run records; push results to it with"
            " `gsi-bench push results`"
        )
    return [_read_record(file) for file in sorted(root.rglob("*.json"))]


def _read_record(file: Path) -> dict[str, Any]:
    """One run record file, checked (see :func:`read_records`)."""
    try:
        record = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{file} is not valid JSON ({error}); delete it or push the run again") from None
    missing = sorted(RECORD_KEYS - set(record)) if isinstance(record, dict) else ["(not a JSON object)"]
    if missing:
        raise ValueError(f"{file} is not a run record: missing {', '.join(missing)}")
    if not isinstance(record["schema_version"], int) or record["schema_version"] > RECORD_SCHEMA_VERSION:
        raise ValueError(
            f"{file} has record schema {record['schema_version']!r}; this gsi-bench reads schema"
            f" {RECORD_SCHEMA_VERSION} and older: upgrade gsi-bench"
        )
    return record


def download_records(repo_id: str, revision: str | None = None) -> list[dict[str, Any]]:
    """Downloads the records of a results dataset on the Hub (only ``runs/``) and reads them (:func:`read_records`)."""
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id, repo_type="dataset", revision=revision, allow_patterns=[f"{RECORDS_FOLDER}/*.json"]
    )
    return read_records(folder)


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None (JSON has no literal for them; ``summary.json`` may)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def json_for_script(value: Any) -> str:
    """``value`` as JSON that is safe inside an HTML ``<script>`` element: no ``<``, ``>`` or ``&`` (so no
    ``</script>`` or ``<!--``), no NaN; ``JSON.parse`` of the element's text gives the same value back."""
    text = json.dumps(_finite(value), ensure_ascii=False, allow_nan=False)
    return "".join(_SCRIPT_ESCAPES.get(character, character) for character in text)


def _csp_hash(content: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline ``<script>`` or ``<style>`` content."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(content.encode()).digest()).decode() + "'"


def page_html(records: Sequence[Mapping[str, Any]]) -> str:
    """The leaderboard page of ``records`` (:func:`~gsi_bench.evaluation.run_record` rows) as one HTML document."""
    style = (TEMPLATE_DIR / "leaderboard.css").read_text()
    script = (TEMPLATE_DIR / "leaderboard.js").read_text()
    try:
        generator = f"gsi-bench {version('gsi-bench')}"
    except PackageNotFoundError:
        generator = "gsi-bench"
    data = {
        "generator": generator,
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "profiles": list(PROFILES),
        "axes": list(AXES),
        "columns": list(COLUMNS),
        "palette": ["#{:02x}{:02x}{:02x}".format(*colour) for colour in PALETTE],
        "records": list(records),
    }
    # Only the page's own style and script may run: no network, no injected markup's scripts or handlers.
    csp = (
        f"default-src 'none'; script-src {_csp_hash(script)}; style-src {_csp_hash(style)}; img-src data:;"
        " base-uri 'none'; form-action 'none'"
    )
    values = {"CSP": csp, "STYLE": style, "SCRIPT": script, "DATA": json_for_script(data)}
    # One pass, so a placeholder-like string in the data or the script is never substituted in turn.
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], (TEMPLATE_DIR / "leaderboard.html").read_text())


def write_leaderboard_page(records: Sequence[Mapping[str, Any]], out_dir: str | os.PathLike) -> Path:
    """Writes the leaderboard page of ``records`` to ``out_dir/index.html`` (creating the folder).

    Returns:
        The path of ``index.html``.
    """
    path = Path(out_dir) / PAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page_html(records), encoding="utf-8")
    return path


def iframe_html(records: Sequence[Mapping[str, Any]], height: str = "85vh") -> str:
    """The leaderboard page in an ``<iframe srcdoc>`` (how the Space shows it in a ``gr.HTML``)."""
    document = html.escape(page_html(records), quote=True)
    return (
        f'<iframe title="GSI-Bench leaderboard" srcdoc="{document}"'
        f' style="width: 100%; height: {height}; border: 0"></iframe>'
    )
