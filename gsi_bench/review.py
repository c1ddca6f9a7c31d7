"""``gsi-bench review``: a local web page to accept, reject or fix the candidates of ``gsi-bench build real``.

The server (standard library, bound to 127.0.0.1) shows every candidate of a candidates folder with its preview,
its instruction (editable) and the target's label (editable: relabel), filters by operation and status, progress, and
keyboard shortcuts (``a`` accept, ``r`` reject, ``j`` / ``k`` next / previous, ``e`` edit the instruction). Every
decision is written to ``<folder>/reviews/<reviewer>.json`` when it is made (atomically), so a closed browser or a
killed server loses nothing. Several reviewers' files are merged with :func:`merge_reviews`: a candidate is accepted
when every reviewer who saw it accepted it with the same text and label; any difference is a disagreement, listed
and left out. Only accepted candidates are written to the dataset (``gsi-bench build real --from-review``).
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gsi_datasets.integrity import write_text_atomically

REVIEWS_DIR = "reviews"
STATUSES = ("accepted", "rejected")
_REVIEWER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def read_candidates(folder: str | Path) -> list[dict[str, Any]]:
    """The candidate rows of a candidates folder.

    Raises:
        FileNotFoundError: the folder has no ``candidates.jsonl``.
        ValueError: a line is not a JSON row (its number is named).
    """
    path = Path(folder) / "candidates.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no candidates (write them with `gsi-bench build real --out {folder}`)")
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} line {number} is not a JSON row: {error}") from error
    return rows


class ReviewStore:
    """One reviewer's decisions on a candidates folder, saved after every change."""

    def __init__(self, folder: str | Path, reviewer: str = "reviewer") -> None:
        if not _REVIEWER.match(reviewer):
            raise ValueError(f"reviewer name {reviewer!r}: letters, digits, '_', '-' and '.' only (at most 64)")
        self.folder, self.reviewer = Path(folder), reviewer
        self.candidates = {row["sample_id"]: row for row in read_candidates(folder)}
        self.path = self.folder / REVIEWS_DIR / f"{reviewer}.json"
        self._lock = threading.Lock()
        self.decisions: dict[str, dict[str, Any]] = _read_decisions(self.path) if self.path.exists() else {}

    def decide(self, sample_id: str, status: str, instruction: str | None = None, category: str | None = None) -> None:
        """Records a decision (``accepted``, ``rejected``, or ``pending`` to take it back) and saves the file.

        Raises:
            KeyError: an unknown sample id.
            ValueError: an unknown status, or an empty instruction or label.
        """
        if sample_id not in self.candidates:
            raise KeyError(f"no candidate {sample_id!r} in {self.folder}")
        if status not in (*STATUSES, "pending"):
            raise ValueError(f"status {status!r}: one of accepted, rejected, pending")
        row = self.candidates[sample_id]
        instruction = row["instruction"] if instruction is None else instruction.strip()
        category = row["target_object"]["category"] if category is None else category.strip()
        if not instruction or not category:
            raise ValueError("the instruction and the label cannot be empty")
        with self._lock:
            if status == "pending":
                self.decisions.pop(sample_id, None)
            else:
                self.decisions[sample_id] = {
                    "status": status,
                    "instruction": instruction,
                    "category": category,
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomically(self.path, json.dumps(self.decisions, indent=1, sort_keys=True))

    def listing(self) -> list[dict[str, Any]]:
        """What the page shows of every candidate, with this reviewer's decision."""
        return [
            {
                "sample_id": sample_id,
                "operation": row["operation"],
                "instruction": row["instruction"],
                "category": row["target_object"]["category"],
                "preview": f"previews/{sample_id}.jpg",
                "decision": self.decisions.get(sample_id),
            }
            for sample_id, row in self.candidates.items()
        ]


def _read_decisions(path: Path) -> dict[str, dict[str, Any]]:
    try:
        decisions = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: the review file is not JSON ({error}); fix or remove it") from error
    if not isinstance(decisions, dict):
        raise ValueError(f"{path}: the review file must map sample ids to decisions")
    return decisions


@dataclass
class MergedReview:
    """The reviewers' decisions merged: ``accepted`` (sample id -> the agreed instruction and label), ``rejected``,
    and ``disagreements`` (sample id -> each reviewer's decision)."""

    reviewers: list[str]
    accepted: dict[str, dict[str, str]]
    rejected: list[str]
    disagreements: dict[str, dict[str, dict[str, Any]]]


def merge_reviews(folder: str | Path) -> MergedReview:
    """Merges every reviewer's file of a candidates folder (module docstring).

    Raises:
        FileNotFoundError: no reviewer's file.
    """
    paths = sorted((Path(folder) / REVIEWS_DIR).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"{Path(folder) / REVIEWS_DIR}: no reviews yet (run `gsi-bench review {folder}`)")
    by_reviewer = {path.stem: _read_decisions(path) for path in paths}
    merged = MergedReview(sorted(by_reviewer), {}, [], {})
    for sample_id in sorted({s for decisions in by_reviewer.values() for s in decisions}):
        seen = {name: decisions[sample_id] for name, decisions in by_reviewer.items() if sample_id in decisions}
        verdicts = {(d["status"], d["instruction"], d["category"]) if d["status"] == "accepted" else ("rejected",)
                    for d in seen.values()}  # fmt: skip
        if len(verdicts) > 1:
            merged.disagreements[sample_id] = seen
        elif next(iter(verdicts))[0] == "accepted":
            _, instruction, category = next(iter(verdicts))
            merged.accepted[sample_id] = {"instruction": instruction, "category": category}
        else:
            merged.rejected.append(sample_id)
    return merged


def reviewed_rows(folder: str | Path, merged: MergedReview) -> list[dict[str, Any]]:
    """The accepted candidates as dataset rows: the agreed instruction and label, images read from their files."""
    folder = Path(folder)
    rows, files = [], {}  # a frame's images are shared by its candidates: each file is read once
    for row in read_candidates(folder):
        agreed = merged.accepted.get(row["sample_id"])
        if agreed is None:
            continue
        target = {**row["target_object"], "category": agreed["category"], "display_name": agreed["category"]}
        row = {**row, "instruction": agreed["instruction"], "target_object": target}
        row["reference_format"] = {**row["reference_format"], "prompt": agreed["instruction"],
                                   "target": agreed["category"]}  # fmt: skip
        for key, value in row.items():
            if isinstance(value, dict) and value.keys() == {"bytes", "path"} and value["path"]:
                image = folder / value["path"]
                if image not in files:
                    if not image.is_file():
                        raise FileNotFoundError(
                            f"{image}: the image of candidate {row['sample_id']} ({key}) is missing"
                        )
                    files[image] = image.read_bytes()
                row[key] = {"bytes": files[image], "path": None}
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------------------------
# The page


class _Handler(BaseHTTPRequestHandler):
    store: ReviewStore

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(HTTPStatus.OK, _page(self.store).encode(), "text/html; charset=utf-8")
        elif path == "/api/candidates":
            self._json(HTTPStatus.OK, self.store.listing())
        elif path.startswith("/previews/") and re.fullmatch(r"/previews/[A-Za-z0-9_.+-]+\.(jpg|png)", path):
            image = self.store.folder / path.lstrip("/")
            if image.is_file():
                kind = "image/jpeg" if image.suffix == ".jpg" else "image/png"
                self._send(HTTPStatus.OK, image.read_bytes(), kind)
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no preview {image.name}"})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path}"})

    def do_POST(self) -> None:
        if self.path != "/api/decide":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no endpoint {self.path}"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            self.store.decide(body["sample_id"], body["status"], body.get("instruction"), body.get("category"))
        except (KeyError, ValueError, TypeError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(message)})
            return
        self._json(
            HTTPStatus.OK, {"saved": str(self.store.path), "decision": self.store.decisions.get(body["sample_id"])}
        )


def review_server(folder: str | Path, reviewer: str = "reviewer", port: int = 0) -> ThreadingHTTPServer:
    """The review server for ``folder`` on 127.0.0.1 (``port`` 0: any free port; ``server.server_port`` says which).
    Call ``serve_forever()`` on it, ``shutdown()`` to stop."""
    handler = type("ReviewHandler", (_Handler,), {"store": ReviewStore(folder, reviewer)})
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def _page(store: ReviewStore) -> str:
    title = html.escape(f"GSI-Real review: {store.folder.name} ({store.reviewer})")
    return _PAGE.replace("{{title}}", title)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{title}}</title>
<style>
body { font-family: sans-serif; margin: 0; background: #f4f4f4; }
header { position: sticky; top: 0; background: #222; color: #fff; padding: 8px 16px; display: flex; gap: 16px;
         align-items: center; z-index: 1; }
header select { font-size: 14px; }
#progress { margin-left: auto; }
.card { background: #fff; margin: 12px 16px; padding: 10px; border-left: 6px solid #bbb; }
.card.current { outline: 3px solid #1a73e8; }
.card.accepted { border-left-color: #2e7d32; } .card.rejected { border-left-color: #c62828; }
.card img { max-width: 100%; display: block; }
.card textarea { width: 100%; font-size: 15px; box-sizing: border-box; }
.row { display: flex; gap: 8px; align-items: center; margin-top: 6px; }
.status { font-weight: bold; }
.help { font-size: 12px; color: #ccc; }
</style></head>
<body>
<header><strong>{{title}}</strong>
<label>Operation <select id="operation"><option value="">all</option></select></label>
<label>Status <select id="status"><option value="">all</option><option>pending</option><option>accepted</option>
<option>rejected</option></select></label>
<span class="help">a accept &middot; r reject &middot; e edit &middot; j/k next/previous</span>
<span id="progress"></span></header>
<main id="list"></main>
<script>
"use strict";
let candidates = [], current = 0;
const list = document.getElementById("list");
function statusOf(c) { return c.decision ? c.decision.status : "pending"; }
function visible() {
  const op = document.getElementById("operation").value, st = document.getElementById("status").value;
  return candidates.filter(c => (!op || c.operation === op) && (!st || statusOf(c) === st));
}
function progress() {
  const done = candidates.filter(c => c.decision).length;
  document.getElementById("progress").textContent = done + " of " + candidates.length + " reviewed";
}
function render() {
  list.textContent = "";
  visible().forEach((c, index) => {
    const card = document.createElement("div");
    card.className = "card " + statusOf(c) + (index === current ? " current" : "");
    card.dataset.sampleId = c.sample_id;
    const name = document.createElement("div");
    name.textContent = c.sample_id + " \\u00b7 " + c.operation;
    const image = document.createElement("img");
    image.src = c.preview; image.alt = "preview of " + c.sample_id; image.loading = "lazy";
    const text = document.createElement("textarea");
    text.rows = 2; text.className = "instruction";
    text.value = c.decision ? c.decision.instruction : c.instruction;
    const label = document.createElement("input");
    label.className = "category"; label.value = c.decision ? c.decision.category : c.category;
    const accept = document.createElement("button"); accept.textContent = "Accept"; accept.className = "accept";
    const reject = document.createElement("button"); reject.textContent = "Reject"; reject.className = "reject";
    const status = document.createElement("span"); status.className = "status"; status.textContent = statusOf(c);
    accept.onclick = () => decide(c, "accepted", card);
    reject.onclick = () => decide(c, "rejected", card);
    card.onclick = () => { current = index; mark(); };
    const row = document.createElement("div"); row.className = "row";
    const labelText = document.createElement("span"); labelText.textContent = "label";
    row.append(labelText, label, accept, reject, status);
    card.append(name, image, text, row);
    list.append(card);
  });
  progress();
}
function mark() {
  document.querySelectorAll(".card").forEach((card, index) => card.classList.toggle("current", index === current));
  const card = document.querySelectorAll(".card")[current];
  if (card) card.scrollIntoView({block: "nearest"});
}
async function decide(c, status, card) {
  const body = {sample_id: c.sample_id, status: status,
                instruction: card.querySelector(".instruction").value, category: card.querySelector(".category").value};
  const answer = await fetch("api/decide", {method: "POST", headers: {"Content-Type": "application/json"},
                                            body: JSON.stringify(body)});
  const result = await answer.json();
  if (!answer.ok) { alert(result.error); return; }
  c.decision = result.decision;
  card.className = "card " + statusOf(c) + " current";
  card.querySelector(".status").textContent = statusOf(c);
  progress();
}
document.addEventListener("keydown", event => {
  if (event.target.tagName === "TEXTAREA" || event.target.tagName === "INPUT") {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  const cards = document.querySelectorAll(".card"), card = cards[current];
  const shown = visible();
  const next = () => { current = Math.min(current + 1, cards.length - 1); mark(); };
  if (event.key === "j") next();
  else if (event.key === "k") { current = Math.max(current - 1, 0); mark(); }
  else if (event.key === "a" && card) { decide(shown[current], "accepted", card); next(); }
  else if (event.key === "r" && card) { decide(shown[current], "rejected", card); next(); }
  else if (event.key === "e" && card) { event.preventDefault(); card.querySelector(".instruction").focus(); }
});
["operation", "status"].forEach(id => document.getElementById(id).onchange = () => { current = 0; render(); });
fetch("api/candidates").then(r => r.json()).then(items => {
  candidates = items;
  const select = document.getElementById("operation");
  [...new Set(items.map(c => c.operation))].forEach(op => {
    const option = document.createElement("option"); option.textContent = op; select.append(option);
  });
  render(); mark();
});
</script></body></html>
"""
