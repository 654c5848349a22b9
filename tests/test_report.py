"""The static report: written at the end of --stage all, self-contained, deterministic, opened
in headless Chromium (leaderboard rendered, every <audio> loads with its duration, no console
errors, a screenshot that is not blank), and safe with hostile metadata."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from harness.cli import main
from harness.data import WorkItem
from harness.report import site
from harness.report.media import Clip, ItemMedia, Transcript
from tests.conftest import TINY_DEMO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
HOSTILE = "<script>alert(1)</script>"
HOSTILE_SYSTEM = "<img src=x onerror=alert(2)>&\"'"  # a valid folder name


@pytest.fixture(scope="module")
def exp(tmp_path_factory, tiny_demo) -> Path:
    """mixture and oracle on the tiny CAD2 task 2 demo, all stages: the report is written at the end."""
    exp = tmp_path_factory.mktemp("report") / "exp"
    argv = ["cad2", "--task", "task2", "--system", "oracle,mixture", "--alone", f"--exp-dir={exp}",
            "--data-root", str(tiny_demo), *TINY_DEMO]
    assert main(argv) == 0
    return exp / "cad2/task2"


def _digests(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_all_writes_a_self_contained_report(exp):
    report = exp / "report"
    pages = sorted((report / "items").glob("*.html"))
    assert (report / "index.html").is_file() and len(pages) == 3  # report.items: 3 of the 4 items
    for page in [report / "index.html", *pages]:
        html = page.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", html), f"{page} links outside the report"
        for ref in re.findall(r"(?:src|href)=\"([^\"]+)\"", html):
            if not ref.startswith("data:"):
                assert (page.parent / ref).is_file(), f"{page.name}: {ref} is missing"
    item = pages[0].read_text()
    assert item.count("<audio") == 4  # mixture, reference, and the two systems' outputs
    assert "audiogram.png" in item and "avg_haaqi" in item
    assert sum(p.stat().st_size for p in report.rglob("*") if p.is_file()) < 40e6


def test_report_stage_is_deterministic_and_reads_the_settings(exp, tiny_demo):
    before = _digests(exp / "report")
    argv = ["cad2", "--task", "task2", "--system", "mixture", "--stage", "report", f"--exp-dir={exp.parent.parent}",
            "--data-root", str(tiny_demo), *TINY_DEMO]
    assert main(argv) == 0
    assert _digests(exp / "report") == before
    first = sorted(p.stem for p in (exp / "mixture/enhanced/valid").glob("*_remix.flac"))[0].removesuffix("_remix")
    assert main([*argv, f"report.items=[{first}]"]) == 0
    assert len(list((exp / "report/items").glob("*.html"))) == 1
    assert main([*argv, "report.budget_mb=0.01"]) == 2  # over budget: one clear error, the old site kept
    assert (exp / "report/index.html").is_file()
    assert main([*argv, "report.items=[nope]"]) == 2
    assert main(argv) == 0


def test_report_items_spread_over_the_keys():
    from harness.task import Task

    class T(Task):
        def work_items(self):
            return [WorkItem(f"k{i}", {}) for i in range(9, -1, -1)]

    def keys(n):
        return [it.key for it in T(OmegaConf.create({"report": {"items": n}}), Path(".")).report_items()]

    assert keys(3) == ["k0", "k4", "k9"] and keys(1) == ["k0"] and keys(0) == [] and len(keys(20)) == 10
    assert keys(["k3", "k1"]) == ["k3", "k1"]


# ---- in a browser --------------------------------------------------------------------------------
def _browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("headless Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--window-size=1280,900"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


AUDIO_STATE = ("return Array.from(document.querySelectorAll('audio')).map("
               "a => [a.readyState, a.duration, Number(a.dataset.seconds), a.error ? a.error.code : null])")


def _wait_for_audio(driver, timeout_s: float = 20.0) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        state = driver.execute_script(AUDIO_STATE)
        if all(s[0] >= 1 or s[3] is not None for s in state) or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def _errors(driver) -> list:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _not_blank(png: Path) -> None:
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert pixels.std() > 10, f"{png} looks blank (pixel std {pixels.std():.1f})"


def test_report_in_headless_chromium(exp, tmp_path):
    driver = _browser()
    try:
        driver.get((exp / "report/index.html").as_uri())
        rows = driver.find_elements("css selector", "#leaderboard tbody tr")
        assert [r.find_element("css selector", "td.system").text for r in rows] == ["oracle", "mixture"]
        assert "baseline" in rows[1].text and "[" in rows[0].text  # the paired interval
        assert driver.find_elements("css selector", "#breakdown tbody tr")
        assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 0
                   for img in driver.find_elements("css selector", "img"))
        assert _errors(driver) == []
        shot = tmp_path / "index.png"
        driver.save_screenshot(str(shot))
        _not_blank(shot)
        links = [a.get_attribute("href") for a in driver.find_elements("css selector", "#items a")]
        assert len(links) == 3
        for link in links:
            driver.get(link)
            state = _wait_for_audio(driver)
            assert len(state) == 4
            for ready, duration, expected, error in state:
                assert error is None and ready >= 1, state
                assert duration == pytest.approx(expected, abs=0.01) and expected == pytest.approx(1.5, abs=0.01)
            assert all(driver.execute_script("return arguments[0].naturalWidth", img) > 0
                       for img in driver.find_elements("css selector", "img"))
            assert _errors(driver) == []
        driver.save_screenshot(str(tmp_path / "item.png"))
        _not_blank(tmp_path / "item.png")
    finally:
        driver.quit()


# ---- hostile metadata ------------------------------------------------------------------------------
class HostileTask:
    """A task whose metadata (system, song, listener names, lyrics, labels) is markup."""

    task_id = "hostile/task"
    primary_metric = "avg_haaqi"
    lower_is_better = False
    breakdown = "family"
    item_columns = ("scene", "listener")

    def __init__(self):
        self.cfg = OmegaConf.create({"title": f"title {HOSTILE}", "report": {"items": 1}})

    def paired_label(self):
        return HOSTILE

    def report_items(self):
        return [WorkItem("S1_L1", {"scene": "S1", "listener": "L1"})]

    def item_media(self, item, systems):
        rate = 8000
        tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
        clips = [Clip(f"{name} {HOSTILE}", tone, rate) for name in systems]
        return ItemMedia(HOSTILE, {HOSTILE: HOSTILE, "song": "\"><svg onload=alert(3)>"}, clips,
                         {"left": ([250, 1000, 4000], [10, 20, 40])}, reference_text=HOSTILE,
                         transcripts=[Transcript(HOSTILE, [("<b>bold</b>", True), ("</p><script>x</script>", False)], 0.5)])


def _hostile_exp(root: Path) -> Path:
    from harness import leaderboard

    for system, shift in ((HOSTILE_SYSTEM, 0.1), ("mixture", 0.0)):
        (root / system).mkdir(parents=True)
        pd.DataFrame([{"scene": f"S{i}", "listener": f"L{i}", "song": HOSTILE, "family": HOSTILE,
                       "avg_haaqi": 0.5 + shift + 0.01 * i} for i in range(1, 4)]).to_csv(root / system / "scores.csv", index=False)
    leaderboard.write(root, "avg_haaqi", breakdown="family", title=HOSTILE, baseline="mixture",
                      item_columns=("scene", "listener"))
    return site.build(HostileTask(), root)


def test_hostile_metadata_is_text_in_the_html(tmp_path):
    report = _hostile_exp(tmp_path)
    for page in [report / "index.html", *(report / "items").glob("*.html")]:
        html = page.read_text()
        assert "<script>alert" not in html and "<script>x" not in html and "<img src=x" not in html
        assert "<svg" not in html and "<b>bold" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert {p.name for p in (report / "assets/media/item-0").iterdir()} == {
        "clip-0.flac", "clip-0.png", "clip-1.flac", "clip-1.png", "audiogram.png"}  # no metadata in file names


def test_hostile_metadata_cannot_script_the_page(tmp_path):
    report = _hostile_exp(tmp_path)
    driver = _browser()
    try:
        from selenium.common.exceptions import NoAlertPresentException

        for page in (report / "index.html", report / "items/item-0.html"):
            driver.get(page.as_uri())
            _wait_for_audio(driver)
            with pytest.raises(NoAlertPresentException):
                driver.switch_to.alert.text
            body = driver.find_element("tag name", "body").text
            assert HOSTILE in body  # shown literally
            assert driver.execute_script("return document.querySelectorAll('script, svg, b, img[src=x]').length") == 0
            assert _errors(driver) == []
        assert HOSTILE_SYSTEM.split("&")[0] in driver.find_element("tag name", "body").text
    finally:
        driver.quit()
