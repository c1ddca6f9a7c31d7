"""The optional judge gate of real candidates (``gsi-bench build real --judge SPEC [--rewrite]``).

Rules alone decide by default. With a judge (:mod:`gsi_metrics.judge`: a chat server or a local image-text model),
each candidate's preview (the photograph with the target's box, and beside it the box the instruction asks for) is
shown with its instruction and label, and the judge answers in JSON whether the edit is plausible in that scene,
whether the label names the boxed object and, with ``--rewrite``, the instruction in natural words. Then:

- an implausible edit is dropped (not written to ``candidates.jsonl``);
- a label the judge disputes is kept and flagged, for the reviewer;
- a rewrite replaces the template only when it keeps every number of the template (the same multiset of numbers):
  a rewrite that changes "15 cm" or "90 degrees" is not used;
- an answer without that JSON, or a request that failed, decides nothing: the candidate is kept.

Every decision, with the judge's answer, goes to ``gate.jsonl`` in the candidates folder; ``report.json`` counts them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

GATE_SYSTEM = "You check edits proposed for photographs of rooms before people review them. Answer only with JSON."
GATE_PROMPT = (
    "The image shows one photograph twice. On the left, a green box marks the {category}; on the right, an orange box "
    'shows where it would be after this instruction: "{instruction}"\n'
    "Answer only with a JSON object with the keys: "
    '"plausible" (true or false: could a person make this edit in this scene, the object fitting where it goes and '
    'standing on something), "label_correct" (true or false: is the object in the green box a {category}), '
    '"rewrite" (the instruction in plain everyday words, with the same object and exactly the same numbers and units).'
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_JSON_OBJECT = re.compile(r"\{[^{}]*\}", re.DOTALL)


@dataclass(frozen=True)
class GateDecision:
    """What the judge said of one candidate, and what was done: ``status`` ``kept``, ``dropped`` (implausible),
    ``unparsable`` or ``failed`` (both keep the candidate)."""

    sample_id: str
    status: str
    plausible: bool | None = None
    label_correct: bool | None = None
    rewrite: str | None = None
    rewrite_used: bool = False
    reason: str = ""
    answer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _verdict(answer: str) -> dict[str, Any] | None:
    """The last JSON object of the answer that has ``plausible``, or None."""
    for text in reversed(_JSON_OBJECT.findall(answer)):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and isinstance(value.get("plausible"), bool):
            return value
    return None


def keeps_numbers(template: str, rewrite: str) -> bool:
    """Whether ``rewrite`` has exactly the numbers of ``template`` (as a multiset)."""
    return Counter(_NUMBER.findall(template)) == Counter(_NUMBER.findall(rewrite))


def gate_candidate(judge: Any, preview: Any, row: dict[str, Any], rewrite: bool) -> GateDecision:
    """Asks ``judge`` about one candidate row (module docstring); ``preview``: its before / after image."""
    category, instruction = row["target_object"]["category"], row["instruction"]
    question = GATE_PROMPT.format(category=category, instruction=instruction)
    try:
        answer = judge.ask(GATE_SYSTEM, [preview], question)
    except Exception as error:  # noqa: BLE001 (a failed request decides nothing; the reason is recorded)
        return GateDecision(row["sample_id"], "failed", reason=f"{type(error).__name__}: {error}")
    verdict = _verdict(answer)
    if verdict is None:
        return GateDecision(row["sample_id"], "unparsable", reason="no JSON object with 'plausible'", answer=answer)
    label = verdict.get("label_correct") if isinstance(verdict.get("label_correct"), bool) else None
    text = verdict.get("rewrite") if isinstance(verdict.get("rewrite"), str) and verdict["rewrite"].strip() else None
    used = bool(rewrite and text and keeps_numbers(instruction, text))
    reason = "" if not (rewrite and text) or used else "the rewrite changes the numbers: not used"
    status = "kept" if verdict["plausible"] else "dropped"
    return GateDecision(row["sample_id"], status, verdict["plausible"], label, text, used, reason, answer)


def apply_rewrite(row: dict[str, Any], decision: GateDecision) -> dict[str, Any]:
    """``row`` with the judge's rewrite as its instruction when it was used (the template stays in
    ``instruction_template``)."""
    if not decision.rewrite_used:
        return row
    return {**row, "instruction": decision.rewrite, "reference_format": {**row["reference_format"],
                                                                          "prompt": decision.rewrite}}  # fmt: skip
