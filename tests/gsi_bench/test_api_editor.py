"""The ``api:`` editors against a real OpenAI-compatible server on 127.0.0.1 (``tests/fake_image_api.py``): retries
through injected failures, refusals, timeouts, malformed bodies, the cache, the rate limit, and ``generate``."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from gsi_bench.editors import get_editor  # noqa: E402
from gsi_bench.editors.api import APIEditError  # noqa: E402
from gsi_bench.generation import run_generation  # noqa: E402


def _rows(count: int) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {
            "sample_id": f"api-{index:03d}",
            "instruction": f"Move the mug {index} cm to the left.",
            "source_image": Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)),
        }
        for index in range(count)
    ]


def _editor(server: Any, tmp_path: Path, **options):
    defaults = {"base_url": server.url, "model": "test-edit", "backoff": 0.01, "timeout": 1.0,
                "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    return get_editor("api:http", {**defaults, **options})


def test_every_sample_ends_with_an_image_through_injected_failures_and_cached_reruns_send_nothing(fake_api, tmp_path):
    """100 samples through rate limits, server errors, timeouts and malformed bodies: each gets its image, through
    ``generate`` with 8 requests in flight; the re-run is served from the cache. (7 of every 12 answers fail, and
    which a sample meets depends on the threads: 30 retries make 31 failures in a row, about 5e-8 per sample, the
    only way to lose one.)"""
    from datasets import Dataset, Features, Value
    from datasets import Image as ImageFeature

    api = fake_api("ok,429,ok,500,timeout,ok,malformed,503,no_data,ok,bad_image,ok", "--slow", "3")
    rows = _rows(100)
    features = Features({"sample_id": Value("string"), "instruction": Value("string"), "source_image": ImageFeature()})
    dataset = Dataset.from_list(rows, features=features)
    options = {"base_url": api.url, "model": "test-edit", "backoff": 0.01, "timeout": 1.0, "concurrency": 8,
               "max_retries": 30, "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    out = tmp_path / "out"
    manifest = run_generation(dataset, "tabletop", "test", "api:http", out, editor_options=options, progress=False)
    assert manifest["counts"] == {"ok": 100, "failed": 0, "unusable": 0, "not_attempted": 0}
    for row in rows:
        written = np.asarray(Image.open(out / f"{row['sample_id']}.png"))
        assert np.array_equal(written, np.asarray(ImageOps.mirror(row["source_image"])))
    stats = api.stats()
    for injected in ("429", "500", "503", "timeout", "malformed", "no_data", "bad_image"):
        assert stats[injected] >= 8, stats  # every kind of failure was met, many times, and retried
    assert stats["ok"] == 100
    assert manifest["editor"]["endpoint"] == f"{api.url}/images/edits"

    requests = stats["requests"]
    again = run_generation(dataset, "tabletop", "test", "api:http", tmp_path / "again", editor_options=options,
                           progress=False)  # fmt: skip
    assert again["counts"]["ok"] == 100 and api.stats()["requests"] == requests  # all from the cache


def test_a_refusal_fails_at_once_with_the_servers_message_and_the_run_goes_on(fake_api, tmp_path):
    api = fake_api("ok")
    editor = _editor(api, tmp_path)
    row = {**_rows(1)[0], "instruction": "REFUSE this one"}
    with pytest.raises(APIEditError, match="HTTP 400: Your request was rejected by the safety system"):
        editor(row)
    assert api.stats()["requests"] == 1  # no retry of a refusal

    unauthorized = get_editor("api:http", {"base_url": api.url, "cache_dir": "none", "api_key_env": "GSI_TEST_KEY"})
    keyed = fake_api("ok", "--key", "secret")
    wrong = get_editor("api:http", {"base_url": keyed.url, "cache_dir": "none", "api_key_env": "GSI_TEST_KEY"})
    os.environ["GSI_TEST_KEY"] = "wrong"
    try:
        with pytest.raises(APIEditError, match="HTTP 401: Incorrect API key"):
            wrong(_rows(1)[0])
        os.environ["GSI_TEST_KEY"] = "secret"
        assert wrong(_rows(1)[0]).size == (32, 24)
    finally:
        del os.environ["GSI_TEST_KEY"]
    assert unauthorized(_rows(1)[0]).size == (32, 24)  # a server without a key takes requests without one


def test_retries_end_with_every_failure_named(fake_api, tmp_path):
    api = fake_api("500,timeout,malformed", "--slow", "2")
    editor = _editor(api, tmp_path, max_retries=2, timeout=0.5)
    start = time.monotonic()
    with pytest.raises(APIEditError, match="failed 3 time") as error:
        editor(_rows(1)[0])
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert "HTTP 500: injected 500" in message and "no answer within 0.5 s" in message and "malformed" in message


def test_url_answers_are_downloaded_and_the_rate_limit_spaces_requests(fake_api, tmp_path):
    api = fake_api("ok")
    editor = _editor(api, tmp_path, response_format="url", rate_limit=20, cache_dir="none", concurrency=4)
    start = time.monotonic()
    images = [editor(row) for row in _rows(6)]
    assert time.monotonic() - start >= 5 / 20 * 0.9  # 6 requests at 20 per second: at least 5 intervals
    assert all(image.size == (32, 24) for image in images)


def test_api_openai_needs_its_key_and_never_records_it(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(KeyError, match="OPENAI_API_KEY"):
        get_editor("api:openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    editor = get_editor("api:openai", {"model": "gpt-image-1", "cache_dir": str(tmp_path)})
    described = json.dumps(editor.describe())
    assert "sk-test-secret" not in described and "https://api.openai.com/v1/images/edits" in described
