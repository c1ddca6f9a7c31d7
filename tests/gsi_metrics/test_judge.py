"""The multimodal judge of AC (``gsi_metrics.judge``): the reference's prompt and parsing in profile ``paper``, the
instruction shown and failures kept apart in profile ``gsi``, the cache, a real chat server on 127.0.0.1 through
``gsi-bench eval --judge``, and a tiny random image-text-to-text model loaded from a folder."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gsi_metrics.judge import (  # noqa: E402
    REFERENCE_PROMPT,
    Judge,
    create_judge,
    judge_prompt,
    parse_answer,
    parse_reference,
)
from gsi_metrics.learned import LearnedMeasures  # noqa: E402
from gsi_metrics.sample import ScoringSample  # noqa: E402
from gsi_metrics.scoring import SampleScore, judged, score_profiles, summarize  # noqa: E402

DELIMITED = '||V^=^V||\n{\n"score" : 7,\n"reasoning" : "same red mug"\n}\n||V^=^V||'


@pytest.mark.parametrize(
    ("answer", "reference", "ours"),
    [
        (DELIMITED, 7.0, 7.0),
        ('||V^=^V||{"score": 8.5, "reasoning": "x"}||V^=^V|| extra', 8.5, 8.5),
        ('Sure. {"score": 6, "reasoning": "x"}', None, 6.0),  # no delimiters: the reference reads nothing
        ('||V^=^V||{"score": "9"}||V^=^V||', None, None),  # a string is no score (the reference would crash)
        ('||V^=^V||{"score": 11}||V^=^V||', 11.0, None),  # out of 0-10: the reference takes it, ours does not
        ('||V^=^V||{"score": true}||V^=^V||', None, None),
        ("||V^=^V|| not json ||V^=^V||", None, None),
        ("_ERROR_", None, None),  # the reference's marker of a failed request
        ("", None, None),
    ],
)
def test_answers_are_read_as_the_reference_reads_them_and_more_tolerantly_in_gsi(answer, reference, ours):
    assert parse_reference(answer) == reference
    assert parse_answer(answer) == ours


def test_the_paper_prompt_is_the_references_and_gsi_adds_the_instruction():
    assert judge_prompt("Move the mug 10 cm left.", "paper") == REFERENCE_PROMPT
    assert "3. The editing instruction." in REFERENCE_PROMPT and "Move the mug" not in REFERENCE_PROMPT  # defect 9
    assert judge_prompt("Move the mug 10 cm left.", "gsi").endswith(
        "The editing instruction: Move the mug 10 cm left.\n"
    )


class ScriptedJudge(Judge):
    """Answers from a list (or raises), recording each question."""

    name = "scripted"

    def __init__(self, answers):
        self.answers, self.questions = list(answers), []

    def ask(self, system, images, text):
        self.questions.append((system, images, text))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _judged_oracle(row, judge):
    """The oracle's ``gsi`` score with the judge, and a compliant ``paper`` score judged in that profile (under the
    reference's rules the oracle of these rows never complies: defect 10, so the judge would not be asked)."""
    (gsi,) = score_profiles(row, row["target_image"], profiles=("gsi",), measures=LearnedMeasures(judge))
    compliant = SampleScore(row["sample_id"], "object_scale", "ok", ic=1.0, sa=0.8, el=0.9, ac=0.95)
    edited = np.asarray(row["target_image"].convert("RGB"))
    return gsi, judged(compliant, ScoringSample.from_row(row), edited, judge, "paper")


def test_the_judges_score_becomes_ac_in_both_profiles(split_rows):
    row = split_rows[0]
    judge = ScriptedJudge([DELIMITED, DELIMITED])
    gsi, paper = _judged_oracle(row, judge)
    assert gsi.ic == 1 and gsi.ac == pytest.approx(0.7) and paper.ac == pytest.approx(0.7)
    assert gsi.details["judge"]["status"] == "ok" and 0 < gsi.details["ac_weight_free"] <= 1
    (_, images_gsi, text_gsi), (system, images_paper, text_paper) = judge.questions
    assert system == "You are a helpful assistant." and text_paper == REFERENCE_PROMPT
    assert row["instruction"] in text_gsi and row["instruction"] not in text_paper
    assert np.array_equal(np.asarray(images_gsi[0]), np.asarray(row["source_image"].convert("RGB")))
    assert np.array_equal(np.asarray(images_gsi[1]), np.asarray(row["target_image"].convert("RGB")))


def test_unreadable_answers_and_failures_are_kept_apart_in_gsi_and_zero_in_paper(split_rows):
    rows = split_rows[:2]
    judge = ScriptedJudge(["I think it is fine.", "no score here", ConnectionError("refused"), ConnectionError("down")])
    scores = [_judged_oracle(row, judge) for row in rows]
    (unparsable_gsi, unparsable_paper), (failed_gsi, failed_paper) = scores
    assert unparsable_gsi.details["judge"]["status"] == "unparsable"
    assert unparsable_gsi.ac == unparsable_gsi.details["ac_weight_free"] > 0  # the weight-free AC, not a silent 0
    assert failed_gsi.details["judge"]["status"] == "failed"
    assert "ConnectionError: refused" in failed_gsi.details["judge"]["message"]
    assert unparsable_paper.ac == 0 and failed_paper.ac == 0

    gsi_summary = summarize([s for s, _ in scores], "gsi")
    assert gsi_summary["judge_counts"] == {"unparsable": 1, "failed": 1}
    assert any("1 unparsable, 1 failed" in warning and "weight-free" in warning for warning in gsi_summary["warnings"])
    paper_summary = summarize([p for _, p in scores], "paper")
    assert paper_summary["overall"]["IC"] == 0 and paper_summary["overall"]["SA"] == 0  # an AC of 0 wipes them


def test_a_non_compliant_sample_is_not_judged(split_rows):
    row = split_rows[0]
    judge = ScriptedJudge([])
    gsi, paper = score_profiles(row, row["source_image"], profiles=("gsi", "paper"), measures=LearnedMeasures(judge))
    assert gsi.ic == 0 and paper.ic == 0 and not judge.questions
    assert gsi.details["judge"] == paper.details["judge"] == {"status": "not_asked"}


def test_chat_server_judge_through_eval_with_retries_and_cache(fake_api, built_split, tmp_path):
    from gsi_bench.cli import main

    server = fake_api("ok", "--answers", "500,score:9,malformed,bare:8,prose")
    out = tmp_path / "judged"
    command = [
        "eval", "--data", str(built_split), "--config", "tabletop", "--editor", "oracle", "--limit", "3",
        "--out", str(out), "--quiet", "--judge", f"openai-compatible:{server.url}",
        "--judge-option", "model=Qwen/Qwen3-VL-235B-A22B-Instruct", "--judge-option", "backoff=0.01",
        "--judge-option", f"cache_dir={tmp_path / 'cache'}",
    ]  # fmt: skip
    assert main(command) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["manifest"]["judge"]["model"] == "Qwen/Qwen3-VL-235B-A22B-Instruct"
    statuses = [
        json.loads(line)["details"]["judge"]["status"] for line in (out / "samples.jsonl").read_text().splitlines()
    ]
    assert statuses == ["ok", "ok", "unparsable"]  # 500 and a malformed body retried; prose has no score
    request = server.last_chat()
    assert request["temperature"] == 0 and request["model"] == "Qwen/Qwen3-VL-235B-A22B-Instruct"
    (system, user) = request["messages"]
    assert system == {"role": "system", "content": "You are a helpful assistant."}
    kinds = [part["type"] for part in user["content"]]
    assert kinds == ["image_url", "image_url", "text"]
    assert user["content"][0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert "The editing instruction:" in user["content"][2]["text"]

    asked = server.stats()["chat"]
    assert main([*command[:10], str(tmp_path / "again"), *command[11:]]) == 0
    assert server.stats()["chat"] == asked  # every answer came from the cache


def test_judge_specs_and_options_are_checked():
    with pytest.raises(KeyError, match="Did you mean openai-compatible"):
        create_judge("openai-compatibel:http://127.0.0.1:1/v1")
    with pytest.raises(ValueError, match="needs an argument"):
        create_judge("transformers")
    with pytest.raises(ValueError, match="Did you mean max_tokens"):
        create_judge("openai-compatible:http://127.0.0.1:1/v1", {"max_token": 5})


def test_transformers_judge_runs_a_tiny_model_from_a_folder(tmp_path, split_rows):
    pytest.importorskip("transformers")
    from tests.tiny_models import tiny_llava

    folder = tiny_llava(tmp_path / "tiny-llava")
    judge = create_judge(f"transformers:{folder}", {"max_new_tokens": 6, "cache_dir": str(tmp_path / "cache")})
    row = split_rows[0]
    source, edited = np.asarray(row["source_image"].convert("RGB")), np.asarray(row["target_image"].convert("RGB"))
    judgement = judge.rate(source, edited, row["instruction"], "gsi")
    assert judgement.status in ("ok", "unparsable") and judgement.answer  # a random model says something
    assert judge.rate(source, edited, row["instruction"], "gsi") == judgement  # the same answer, from the cache
    described = judge.describe()
    assert described["model_class"] == "LlavaForConditionalGeneration" and described["decoding"] == "greedy"
    assert Path(described["model"]) == folder


def test_the_evaluate_suite_takes_a_judge(fake_api, split_rows, tmp_path):
    import evaluate

    server = fake_api("ok", "--answers", "score:6")
    bench = evaluate.load(str(Path(__file__).resolve().parents[2] / "gsi_metrics" / "gsi_bench"))
    rows = split_rows[:2]
    options = {"cache_dir": str(tmp_path / "cache")}
    result = bench.compute(predictions=[r["target_image"] for r in rows], references=rows,
                           judge=f"openai-compatible:{server.url}", judge_options=options)  # fmt: skip
    assert result["judge_counts"] == {"ok": 2} and result["AC"] == pytest.approx(60.0)
