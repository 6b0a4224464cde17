"""The chat page in a real headless browser: Debian's chromium driven by Playwright.

`make test` installs chromium and a Chinese font (see the Makefile's system-deps). Where the
browser is missing the test skips, except in CI, where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from qa_fixtures import copy_workspace
from test_serving import Server

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = os.environ.get("KGQA_CHAT_SCREENSHOT")  # where to keep a picture of the page, if set


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (make system-deps)")
        pytest.skip(f"{CHROMIUM} is not installed (make system-deps installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_ask_in_the_page_see_the_answer_and_the_capture(browser, tiny_qa, tmp_path):
    settings = copy_workspace(tiny_qa, tmp_path)
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    try:
        page = browser.new_page(locale="zh-CN")
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server.base) else None)
        page.goto(server.base + "/")
        assert page.title() == "kgqa · 知识图谱问答"
        page.wait_for_function("document.getElementById('status').textContent.includes('qa/v1')")
        # Keyboard alone: the input has the focus, Enter sends.
        assert page.evaluate("document.activeElement.id") == "question"
        page.keyboard.type("三度诱惑的导演是谁")
        page.keyboard.press("Enter")
        answer = page.locator(".turn .answer .text").first
        answer.wait_for()
        assert answer.text_content() == "何藩"
        assert page.locator(".turn .question").first.text_content() == "三度诱惑的导演是谁"
        # Tab to the details of the answer, Enter opens them: intent, slots, entity, query.
        page.keyboard.press("Tab")  # the send button
        page.keyboard.press("Tab")  # clear
        page.locator("details summary").first.focus()
        page.keyboard.press("Enter")
        details = page.locator("details").first
        assert details.get_attribute("open") is not None
        text = details.text_content()
        assert "ask_director" in text and "三度诱惑 → 三度诱惑" in text and "outE('导演')" in text
        # A second question: the history stays, and survives a reload.
        page.locator("#question").fill("李嘉欣和谁结婚了")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('.turn').length === 2")
        assert page.locator(".turn .answer .text").nth(1).text_content() == "许晋亨"
        page.reload()
        page.wait_for_function("document.querySelectorAll('.turn').length === 2")
        # A follow-up: the page's session id (kept across the reload) carries the context.
        page.locator("#question").fill("那他的妻子是谁")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('.turn').length === 3")
        assert page.locator(".turn .answer .text").nth(2).text_content() == "李嘉欣"
        assert "“他”指许晋亨" in page.locator("details").nth(2).text_content()
        # Clearing starts a new conversation: 他 refers to nothing any more.
        page.locator("#clear").click()
        page.locator("#question").fill("那他的妻子是谁")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('.turn').length === 1")
        page.locator(".turn .answer.no-answer").wait_for()
        # Chinese renders as glyphs, not boxes: with no CJK font every character is the same box.
        same = page.evaluate("""() => {
            const draw = (ch) => { const c = document.createElement('canvas'); c.width = c.height = 32;
                const g = c.getContext('2d'); g.font = '24px ' + getComputedStyle(document.body).fontFamily;
                g.fillText(ch, 2, 26); return Array.from(g.getImageData(0, 0, 32, 32).data).join(); };
            return draw('何') === draw('藩'); }""")
        assert not same
        if SCREENSHOT:
            page.screenshot(path=SCREENSHOT, full_page=True)
        assert outside == []  # no outside downloads: every asset comes from the server
    finally:
        assert server.stop() == 0
    captured = [line for _, line in server.capture_lines()]
    questions = [json.loads(line["captureData"]["endpointInput"]["data"])["question"] for line in captured
                 if line["captureData"]["endpointInput"]["encoding"] == "JSON"]
    assert questions == ["三度诱惑的导演是谁", "李嘉欣和谁结婚了", "那他的妻子是谁", "那他的妻子是谁"]
