"""The static leaderboard page (``gsi_bench.leaderboard_page``, ``gsi-bench leaderboard --html``) and its Space.

The page is checked in headless Chromium (Playwright, with the system's chromium: ``scripts/setup.sh`` installs
it): it opens from ``file://`` with every other request refused, shows the numbers of ``summary.json``, sorts,
switches profile, draws its charts, shows manifests, and shows a hostile label as text without running it.
"""

from __future__ import annotations

import contextlib
import html
import importlib.util
import json
import math
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gsi_bench.cli import main
from gsi_bench.evaluation import COLUMNS, RECORD_SCHEMA_VERSION, SUMMARY_FILE, run_evaluation
from gsi_bench.leaderboard_page import (
    PAGE_FILE,
    download_records,
    iframe_html,
    json_for_script,
    load_records,
    page_html,
    read_records,
    write_leaderboard_page,
)
from gsi_metrics.scoring import AXES

SPACE_DIR = Path(__file__).resolve().parents[2] / "gsi_bench" / "spaces" / "leaderboard"
#: A label (editor spec) and dataset path that would run script if the page parsed them as HTML.
HOSTILE = '<img src=x onerror="window.__gsi_pwned=1;alert(1)">"><script>window.__gsi_pwned=2;alert(2)</script>'
SCREENSHOT = Path("/tmp/leaderboard_screenshot.png")


@pytest.fixture(scope="module")
def results(built_split: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Results folders by run name: identity and oracle (both profiles, 3 rows) and a copy of identity's
    summary scored in ``gsi`` only, whose editor spec and dataset path are :data:`HOSTILE`."""
    root = tmp_path_factory.mktemp("results")
    folders = {}
    for editor in ("identity", "oracle"):
        folders[editor] = root / editor
        run_evaluation(built_split, "tabletop", "test", editor, root / editor, progress=False, limit=3, profile="both")
    summary = json.loads((folders["identity"] / SUMMARY_FILE).read_text())
    del summary["other_profiles"]
    summary["manifest"].update(editor=HOSTILE, profile="gsi", profiles=["gsi"])
    summary["manifest"]["dataset"]["path"] = HOSTILE
    folders[HOSTILE] = root / "hostile"
    folders[HOSTILE].mkdir()
    (folders[HOSTILE] / SUMMARY_FILE).write_text(json.dumps(summary))
    return folders


def _summaries(results: dict[str, Path], profile: str) -> dict[str, dict[str, Any]]:
    """The ``profile`` summary of each run scored in it, by run name."""
    summaries = {}
    for name, folder in results.items():
        content = json.loads((folder / SUMMARY_FILE).read_text())
        by_profile = {content["profile"]: content, **content.get("other_profiles", {})}
        if profile in by_profile:
            summaries[name] = by_profile[profile]
    return summaries


@pytest.fixture(scope="module")
def page_file(results: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_leaderboard_page(load_records(list(results.values())), tmp_path_factory.mktemp("page"))


# --------------------------------------------------------------------------------------------------------
# Records and the HTML document


def test_records_cover_every_profile_and_tell_equal_labels_apart(results: dict[str, Path], tmp_path: Path) -> None:
    records = load_records(list(results.values()))
    assert [(r["model"], r["profile"]) for r in records] == [
        ("identity", "gsi"),
        ("identity", "paper"),
        ("oracle", "gsi"),
        ("oracle", "paper"),
        (HOSTILE, "gsi"),
    ]
    for record in records:
        assert record["overall"] == _summaries(results, record["profile"])[record["model"]]["overall"]
        assert record["schema_version"] == RECORD_SCHEMA_VERSION
    copy = tmp_path / "oracle-again"
    copy.mkdir()
    shutil.copy(results["oracle"] / SUMMARY_FILE, copy / SUMMARY_FILE)
    models = {r["model"] for r in load_records([results["oracle"], copy])}
    assert models == {f"oracle ({results['oracle']})", f"oracle ({copy})"}


def test_json_for_script_cannot_end_the_script_element() -> None:
    value = {"label": "</script><!--<script>", "amp": "a & b \u2028", "nan": float("nan"), "ci": [1.0, float("inf")]}
    text = json_for_script(value)
    assert not any(character in text for character in "<>&\u2028")
    assert json.loads(text) == {"label": value["label"], "amp": value["amp"], "nan": None, "ci": [1.0, None]}


def test_page_is_self_contained_and_embeds_the_records_as_data(page_file: Path, results: dict[str, Path]) -> None:
    document = page_file.read_text()
    assert page_file.name == PAGE_FILE and sorted(p.name for p in page_file.parent.iterdir()) == [PAGE_FILE]
    assert "default-src 'none'" in document
    for external in ("<link", "<img", "<iframe", "@import", "url(", "//cdn", "fonts.googleapis"):
        assert external not in document
    assert HOSTILE not in document and html.escape(HOSTILE) not in document
    assert document.count("</script") == 2  # the data element and the script: the labels' `</script>` is escaped
    start = document.index('id="gsi-data">') + len('id="gsi-data">')
    data = json.loads(document[start : document.index("</script>", start)])
    # The records as JSON can carry them: NaN (an operation with no scored sample) becomes null.
    records = json.loads(json.dumps(load_records(list(results.values()))), parse_constant=lambda _: None)
    assert data["records"] == records
    assert data["columns"] == list(COLUMNS) and data["axes"] == list(AXES)


# --------------------------------------------------------------------------------------------------------
# In the browser


@dataclass
class OpenedPage:
    """A page opened in Chromium with what it did: every request, console errors and dialogs."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_quiet(self) -> None:
        """Nothing left ``file://``, nothing logged an error, no dialog opened."""
        assert self.requests and all(url.startswith("file://") for url in self.requests), self.requests
        assert self.errors == [] and self.dialogs == []


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]' (scripts/setup.sh)"
    )
    executable = _chromium()
    if executable is None:
        pytest.skip("chromium is not installed: apt-get install chromium (scripts/setup.sh does)")
    with sync_api.sync_playwright() as playwright:
        # No host name resolves: even a request that escaped the routes below could not reach a network.
        browser = playwright.chromium.launch(executable_path=executable, args=["--host-resolver-rules=MAP * ~NOTFOUND"])
        yield browser
        browser.close()


@contextlib.contextmanager
def _open(browser: Any, page_file: Path) -> Iterator[OpenedPage]:
    """Opens ``page_file`` in a new browser context that refuses every request not to ``file://``."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    opened = OpenedPage(page)
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda message: opened.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: opened.errors.append(str(error)))

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(page_file.as_uri())
    yield opened
    context.close()


@pytest.fixture
def opened(browser: Any, page_file: Path) -> Iterator[OpenedPage]:
    with _open(browser, page_file) as opened:
        yield opened


def _rows(page: Any, scope: str) -> list[dict[str, Any]]:
    """The rows of the ``scope`` table as shown: run name and, per column, the value and interval texts."""
    return page.evaluate(
        """(scope) => [...document.querySelectorAll(`.scope[data-scope="${scope}"] tbody tr`)].map((row) => ({
            name: row.querySelector(".run-name").textContent,
            cells: Object.fromEntries([...row.querySelectorAll("td[data-column]")].map((cell) => [
                cell.dataset.column,
                [
                    cell.querySelector(".value")?.textContent ?? cell.textContent,
                    cell.querySelector(".ci")?.textContent ?? null,
                ],
            ])),
        }))""",
        scope,
    )


def _shown(text: str) -> float:
    """A number as the page prints it; an en dash for none (an operation with no scored sample)."""
    return math.nan if text.strip() == "\u2013" else float(text)


def _number(value: float | None) -> float:
    """A summary's number; NaN (``summary.json``) or null (the page's data) for none."""
    return math.nan if value is None else value


def _assert_rows_show(rows: list[dict[str, Any]], summaries: dict[str, dict[str, Any]], scope: str) -> None:
    assert sorted(row["name"] for row in rows) == sorted(summaries)
    for row in rows:
        summary = summaries[row["name"]]
        axes = summary["overall"] if scope == "overall" else summary["per_operation"][scope]
        assert row["cells"]["n"][0] == str(axes["n"])
        for column in COLUMNS:
            value, interval = row["cells"][column]
            assert _shown(value) == pytest.approx(_number(axes[column]), abs=0.005 + 1e-9, nan_ok=True)
            if column in AXES:
                low, high = (_shown(bound) for bound in interval.strip("[]").split(","))
                expected = [_number(bound) for bound in axes[f"{column}_ci95"]]
                assert [low, high] == pytest.approx(expected, abs=0.005 + 1e-9, nan_ok=True)
            else:
                assert interval is None


def test_page_opens_from_file_without_network_or_errors(opened: OpenedPage, results: dict[str, Path]) -> None:
    page = opened.page
    assert page.locator("section.subset h2").all_text_contents() == ["tabletop / test"]
    operations = sorted(_summaries(results, "gsi")["oracle"]["per_operation"])
    assert page.locator(".scope").evaluate_all("scopes => scopes.map(s => s.dataset.scope)") == ["overall", *operations]
    opened.assert_quiet()


def test_tables_show_the_summary_numbers(opened: OpenedPage, results: dict[str, Path]) -> None:
    summaries = _summaries(results, "gsi")
    for scope in ["overall", *summaries["oracle"]["per_operation"]]:
        rows = _rows(opened.page, scope)
        if scope != "overall":  # the hostile copy is identity's summary: the same operations
            assert len(rows) == 3
        _assert_rows_show(rows, summaries, scope)
    opened.assert_quiet()


def test_clicking_a_column_header_sorts_the_rows(opened: OpenedPage) -> None:
    page = opened.page
    header = page.locator('.scope[data-scope="overall"] th[data-key="IC"]')

    def column(name: str) -> list[float]:
        return [float(row["cells"][name][0]) for row in _rows(page, "overall")]

    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert column("IC") == sorted(column("IC"), reverse=True) and column("IC")[0] > column("IC")[-1]
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert column("IC") == sorted(column("IC")) and column("IC")[0] < column("IC")[-1]
    page.locator('.scope[data-scope="overall"] th[data-key="run"] button').click()
    names = [row["name"] for row in _rows(page, "overall")]
    assert names == sorted(names, key=str.lower) and names[0] == HOSTILE  # "<" sorts before letters
    opened.assert_quiet()


def test_profile_switch_shows_the_paper_numbers(opened: OpenedPage, results: dict[str, Path]) -> None:
    page = opened.page
    gsi_rows = _rows(page, "overall")
    page.locator(".segmented label", has_text="paper").click()
    paper = _summaries(results, "paper")
    assert set(paper) == {"identity", "oracle"}  # the hostile run was scored in gsi only
    paper_rows = _rows(page, "overall")
    _assert_rows_show(paper_rows, paper, "overall")
    for scope in paper["oracle"]["per_operation"]:
        _assert_rows_show(_rows(page, scope), paper, scope)
    assert [r["cells"] for r in paper_rows if r["name"] == "identity"] != [
        r["cells"] for r in gsi_rows if r["name"] == "identity"
    ]
    assert HOSTILE in page.locator(".missing-profile").text_content()
    assert "profile paper" in page.locator(".subset .meta").text_content()
    opened.assert_quiet()


def test_each_chart_has_a_bar_per_run_and_column_with_whiskers(opened: OpenedPage, results: dict[str, Path]) -> None:
    page = opened.page
    scopes = ["overall", *sorted(_summaries(results, "gsi")["oracle"]["per_operation"])]
    charts = page.locator(".scope-chart svg")
    assert charts.count() == len(scopes)
    for index, scope in enumerate(scopes):
        chart = charts.nth(index)
        assert chart.get_attribute("data-scope") == scope
        assert chart.locator("rect.bar").count() == len(results) * len(COLUMNS)
        assert chart.locator("g.whisker").count() == len(results) * len(AXES)  # Avg has no interval
        heights = chart.locator("rect.bar").evaluate_all("bars => bars.map(b => Number(b.getAttribute('height')))")
        assert all(height >= 0 for height in heights) and max(heights) > 0
    opened.assert_quiet()


def test_clicking_a_run_shows_its_manifest(opened: OpenedPage, results: dict[str, Path]) -> None:
    page = opened.page
    assert page.locator("#details").is_hidden()
    page.locator('.scope[data-scope="overall"] button.run', has_text="oracle").click()
    details = page.locator("#details")
    assert details.is_visible() and page.locator("#details-title").text_content() == "oracle"
    manifest = json.loads((results["oracle"] / SUMMARY_FILE).read_text())["manifest"]
    assert json.loads(page.locator("#details-json").text_content()) == manifest
    facts = details.locator("#details-facts").text_content()
    for fact in (
        manifest["backend"]["config_hash"],
        manifest["dataset"]["fingerprint"]["sample_ids_sha256"],
        f"numpy {manifest['versions']['numpy']}",
        manifest["timestamp"],
    ):
        assert fact in facts
    page.keyboard.press("Escape")
    assert details.is_hidden()
    opened.assert_quiet()


def test_a_hostile_label_is_shown_as_text_and_runs_nothing(opened: OpenedPage) -> None:
    page = opened.page
    names = page.locator('.scope[data-scope="overall"] .run-name').all_text_contents()
    assert HOSTILE in names
    page.locator('.scope[data-scope="overall"] button.run').nth(names.index(HOSTILE)).click()
    assert page.locator("#details-title").text_content() == HOSTILE
    assert HOSTILE in page.locator("#details-facts").text_content()
    assert page.locator("img").count() == 0 and page.locator("body script").count() == 2
    assert page.evaluate("window.__gsi_pwned") is None
    opened.assert_quiet()


def test_a_model_published_twice_gets_a_row_per_run(browser: Any, results: dict[str, Path], tmp_path: Path) -> None:
    """A results dataset keeps every push: two runs of one model, subset and profile are told apart by time."""
    first = load_records([results["oracle"]])[0]
    again = {**first, "manifest": {**first["manifest"], "timestamp": "2099-01-01T00:00:00+00:00"}}
    with _open(browser, write_leaderboard_page([first, again], tmp_path)) as opened:
        names = {row["name"] for row in _rows(opened.page, "overall")}
        assert names == {f"oracle ({first['manifest']['timestamp']})", "oracle (2099-01-01T00:00:00+00:00)"}
        opened.assert_quiet()


def test_screenshot_of_the_page(opened: OpenedPage, tmp_path: Path) -> None:
    """Writes screenshots for a person to look at: the page, and a run's details (also in /tmp)."""
    page = opened.page
    shots = [tmp_path / "leaderboard.png", tmp_path / "leaderboard_details.png"]
    page.screenshot(path=str(shots[0]), full_page=True)
    page.locator("button.run", has_text="oracle").first.click()
    page.screenshot(path=str(shots[1]))
    for shot in shots:
        assert shot.stat().st_size > 10_000
    shutil.copy(shots[0], SCREENSHOT)
    shutil.copy(shots[1], SCREENSHOT.with_name("leaderboard_details_screenshot.png"))
    print(f"screenshots: {shots[0]} {shots[1]} (copied to {SCREENSHOT.parent})")
    opened.assert_quiet()


# --------------------------------------------------------------------------------------------------------
# Command line


def test_leaderboard_html_writes_the_page_of_every_profile(
    results: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "board"
    assert main(["leaderboard", str(results["identity"]), str(results["oracle"]), "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Leaderboard page: {out / PAGE_FILE}" in printed and "| oracle |" in printed
    document = (out / PAGE_FILE).read_text()
    assert '"profile": "paper"' in document and '"profile": "gsi"' in document


# --------------------------------------------------------------------------------------------------------
# Results dataset and Space


def _write_dataset(root: Path, records: list[dict[str, Any]]) -> Path:
    for record in records:
        file = root / "runs" / record["label"] / f"{record['config']}-{record['split']}-{record['profile']}.json"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(record))
    return root


def test_read_records_reads_every_run_file_of_a_dataset_folder(results: dict[str, Path], tmp_path: Path) -> None:
    records = load_records([results["identity"], results["oracle"]])
    folder = _write_dataset(tmp_path / "dataset", records)
    by_file = sorted(records, key=lambda r: (r["label"], r["profile"]))
    assert read_records(folder) == json.loads(json.dumps(by_file))
    with pytest.raises(FileNotFoundError, match="no runs/ folder"):
        read_records(tmp_path)
    bad = folder / "runs" / "zz" / "bad.json"
    bad.parent.mkdir()
    for text, message in (
        ("{oops", "is not valid JSON"),
        ('{"model": "x"}', "is not a run record: missing config"),
        (json.dumps({**records[0], "schema_version": RECORD_SCHEMA_VERSION + 1}), "upgrade gsi-bench"),
    ):
        bad.write_text(text)
        with pytest.raises(ValueError, match=message) as error:
            read_records(folder)
        assert str(bad) in str(error.value)


def test_download_records_reads_a_snapshot_of_the_dataset(
    results: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    folder = _write_dataset(tmp_path, load_records([results["oracle"]]))
    calls = []

    def snapshot_download(repo_id: str, **options: Any) -> str:
        calls.append((repo_id, options))
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    assert [r["profile"] for r in download_records("someone/gsi-results")] == ["gsi", "paper"]
    assert calls == [
        ("someone/gsi-results", {"repo_type": "dataset", "revision": None, "allow_patterns": ["runs/*.json"]})
    ]


def test_space_folder_serves_the_page_in_an_iframe(results: dict[str, Path]) -> None:
    card = (SPACE_DIR / "README.md").read_text()
    front_matter = card.split("---")[1]
    assert "sdk: gradio" in front_matter and "app_file: app.py" in front_matter
    assert "gsi-bench" in (SPACE_DIR / "requirements.txt").read_text().split()
    records = load_records([results[HOSTILE]])
    frame = iframe_html(records)
    assert frame.startswith("<iframe ") and HOSTILE not in frame and frame.count("<") == 2  # <iframe and </iframe
    srcdoc = html.unescape(frame.split('srcdoc="')[1].split('"')[0])
    undated = re.compile(r'"generated_at": "[^"]*"')
    assert undated.sub("", srcdoc) == undated.sub("", page_html(records))


def test_space_app_builds() -> None:
    gradio = pytest.importorskip("gradio", reason="gradio is not installed (only the Space needs it)")
    spec = importlib.util.spec_from_file_location("leaderboard_space_app", SPACE_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app = module.build_app(lambda: [], "local")
    assert isinstance(app, gradio.Blocks)
