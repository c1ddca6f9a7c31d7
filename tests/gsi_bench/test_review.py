"""`gsi-bench review`: decisions saved per click (and kept by a killed server), the page in headless Chromium, merged
reviews with disagreements listed, and the reviewed `real` config read back by `load_dataset` offline."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from gsi_bench.cli import main
from gsi_bench.review import ReviewStore, merge_reviews, review_server
from tests.real_captures import middlebury_motorcycle_folder

SCREENSHOT = Path("/tmp/review_screenshot.png")


@pytest.fixture(scope="module")
def candidates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review")
    capture = middlebury_motorcycle_folder(root / "capture")
    assert main(["build", "real", "--source", f"rgbd:{capture}", "--frame-stride", "1", "--out",
                 str(root / "candidates"), "--quiet"]) == 0  # fmt: skip
    return root / "candidates"


@pytest.fixture
def folder(candidates: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "candidates"
    shutil.copytree(candidates, copy)
    return copy


def _ids(folder: Path) -> list[str]:
    return [json.loads(line)["sample_id"] for line in (folder / "candidates.jsonl").read_text().splitlines()]


def test_decisions_are_saved_when_made_and_checked(folder: Path) -> None:
    first, second, *_ = _ids(folder)
    store = ReviewStore(folder, "ana")
    store.decide(first, "accepted", instruction="  Remove the lowest cardboard box.  ")
    saved = json.loads((folder / "reviews" / "ana.json").read_text())
    assert saved[first]["status"] == "accepted" and saved[first]["instruction"] == "Remove the lowest cardboard box."
    store.decide(second, "rejected")
    store.decide(second, "pending")  # taken back
    assert set(ReviewStore(folder, "ana").decisions) == {first}
    with pytest.raises(KeyError, match="no candidate 'nope'"):
        store.decide("nope", "accepted")
    with pytest.raises(ValueError, match="status 'maybe'"):
        store.decide(first, "maybe")
    with pytest.raises(ValueError, match="cannot be empty"):
        store.decide(first, "accepted", category=" ")
    with pytest.raises(ValueError, match="reviewer name"):
        ReviewStore(folder, "../evil")
    (folder / "reviews" / "ana.json").write_text("{ not json")
    with pytest.raises(ValueError, match="ana.json: the review file is not JSON"):
        ReviewStore(folder, "ana")


def test_merged_reviews_write_a_real_config_that_load_dataset_reads(folder: Path, tmp_path: Path, capsys) -> None:
    from datasets import load_dataset

    ids = _ids(folder)
    ana, ben = ReviewStore(folder, "ana"), ReviewStore(folder, "ben")
    ana.decide(ids[0], "accepted", instruction="Take the lowest cardboard box away.")
    ben.decide(ids[0], "accepted", instruction="Take the lowest cardboard box away.")
    ana.decide(ids[1], "accepted")
    ben.decide(ids[1], "rejected")  # a disagreement: left out, listed
    ana.decide(ids[2], "accepted", category="jerrycan")  # relabelled, seen by ana only
    ana.decide(ids[3], "rejected")
    merged = merge_reviews(folder)
    assert set(merged.accepted) == {ids[0], ids[2]} and merged.rejected == [ids[3]]
    assert set(merged.disagreements) == {ids[1]} and set(merged.disagreements[ids[1]]) == {"ana", "ben"}
    assert main(["review", str(folder), "--merge"]) == 0
    assert f"{ids[1]}: ana accepted" in capsys.readouterr().out

    dataset_dir = tmp_path / "dataset"
    assert main(["build", "real", "--from-review", str(folder), "--out", str(dataset_dir)]) == 0
    assert f"Left out (reviewers disagree): {ids[1]}" in capsys.readouterr().out
    rows = load_dataset(str(dataset_dir), "real", split="test")
    assert sorted(rows["sample_id"]) == sorted([ids[0], ids[2]])
    by_id = {row["sample_id"]: row for row in rows}
    assert by_id[ids[0]]["instruction"] == "Take the lowest cardboard box away."
    assert by_id[ids[2]]["target_object"]["category"] == "jerrycan"
    assert by_id[ids[0]]["target_image"] is None and by_id[ids[0]]["source_image"].size == (741, 500)
    assert by_id[ids[0]]["reference_format"]["dataset"] == "fine"


def _serve(folder: Path, reviewer: str = "reviewer"):
    server = review_server(folder, reviewer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def test_the_page_in_chromium_accepts_rejects_edits_and_restores(folder: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("chromium is not installed: apt-get install chromium (scripts/setup.sh does)")
    server, url = _serve(folder)
    ids = _ids(folder)
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            page.wait_for_selector(".card")
            assert page.locator(".card").count() == len(ids)
            assert page.inner_text("#progress") == f"0 of {len(ids)} reviewed"
            page.locator(".card").nth(0).locator("button.accept").click()
            page.wait_for_function("document.querySelectorAll('.card.accepted').length === 1")
            page.keyboard.press("j")
            page.keyboard.press("r")  # rejects the second card (the current one after j)
            page.wait_for_function("document.querySelectorAll('.card.rejected').length === 1")
            third = page.locator(".card").nth(2)
            third.locator("textarea").fill("Turn the bottle 45 degrees clockwise, seen from above.")
            third.locator("button.accept").click()
            page.wait_for_function(f"document.getElementById('progress').textContent === '3 of {len(ids)} reviewed'")
            saved = json.loads((folder / "reviews" / "reviewer.json").read_text())
            assert {k: v["status"] for k, v in saved.items()} == {
                ids[0]: "accepted", ids[1]: "rejected", ids[2]: "accepted"
            }  # fmt: skip
            assert saved[ids[2]]["instruction"] == "Turn the bottle 45 degrees clockwise, seen from above."
            page.reload()
            page.wait_for_selector(".card")
            assert page.locator(".card.accepted").count() == 2 and page.locator(".card.rejected").count() == 1
            assert page.locator(".card").nth(2).locator("textarea").input_value().startswith("Turn the bottle 45")
            page.select_option("#status", "accepted")
            assert page.locator(".card").count() == 2
            page.select_option("#status", "")
            page.screenshot(path=str(SCREENSHOT), full_page=False)
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert errors == []


def test_a_killed_server_loses_no_decision(folder: Path) -> None:
    ids = _ids(folder)
    command = [sys.executable, "-m", "gsi_bench.cli", "review", str(folder), "--port", "0"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def start() -> tuple[subprocess.Popen, str]:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
        url = re.search(r"http://127\.0\.0\.1:\d+/", process.stdout.readline()).group(0)
        return process, url

    process, url = start()
    for sample_id, status in ((ids[0], "accepted"), (ids[1], "rejected")):
        request = urllib.request.Request(url + "api/decide", json.dumps({"sample_id": sample_id, "status": status})
                                         .encode(), {"Content-Type": "application/json"})  # fmt: skip
        assert json.loads(urllib.request.urlopen(request, timeout=10).read())["decision"]["status"] == status
    bad = urllib.request.Request(url + "api/decide", b'{"sample_id": "nope", "status": "accepted"}')
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=10)
    assert refused.value.code == 400 and "no candidate" in json.loads(refused.value.read())["error"]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process, url = start()
    try:
        listing = json.loads(urllib.request.urlopen(url + "api/candidates", timeout=10).read())
        decided = {item["sample_id"]: item["decision"]["status"] for item in listing if item["decision"]}
        assert decided == {ids[0]: "accepted", ids[1]: "rejected"}
    finally:
        process.kill()
        process.wait(timeout=10)


def test_reviewing_a_folder_without_candidates_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["review", str(tmp_path), "--port", "0"]) == 2
    assert "no candidates" in capsys.readouterr().err
    assert main(["review", str(tmp_path), "--merge"]) == 2
