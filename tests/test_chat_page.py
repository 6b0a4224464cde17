"""The chat page in a real headless browser: Debian's chromium driven by Playwright.

`make test` installs chromium and a Chinese font (see the Makefile's system-deps). Where the
browser or the font is missing the test skips, except in CI (CI set), where it fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers.server import Server
from helpers.system import has_font, require
from qa_fixtures import copy_workspace

pytestmark = pytest.mark.slow  # drives a real browser

CHROMIUM = Path("/usr/bin/chromium")
CJK_FONT = "WenQuanYi Zen Hei"
SCREENSHOT = os.environ.get("KGQA_CHAT_SCREENSHOT")  # where to keep a picture of the page, if set


@pytest.fixture
def browser():
    require(CHROMIUM.exists(), str(CHROMIUM), "make system-deps installs it: apt-get install chromium")
    # Without a CJK font every Chinese character draws as the same box (the page test checks).
    require(has_font(CJK_FONT), f"the {CJK_FONT} font", "make system-deps installs it: apt-get install fonts-wqy-zenhei")
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
        # The reason in Chinese; the code and the technical detail stay in the details.
        assert page.locator(".turn .answer .text").first.text_content() == "“他”指的是前面的问题，但前面没有问题"
        details = page.locator("details").first.text_content()
        assert "nothing earlier to refer to" in details and "refers back to an earlier question" in details
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


def test_a_question_back_offers_its_options_as_buttons_and_the_details_draw_the_hops(browser, tiny_qa, tmp_path):
    """Answers as the endpoint sends them (kept in the page's session history): a question back
    whose options ask again, and a chain whose hops show in the details. Graph text is text."""
    settings = copy_workspace(tiny_qa, tmp_path)
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    hostile = "<img src=x onerror=alert(1)>歌手张伟"
    asked_back = {"question": "张伟的妻子是谁", "result": {
        "question": "张伟的妻子是谁", "reason": "ambiguous", "answers": [], "message": "你问的是演员张伟，还是歌手张伟？",
        "entities": [{"mention": "张伟", "name": "张伟(演员)", "method": "scan"}], "slots": {"subject": ["张伟"]},
        "clarify": {"question": "你问的是演员张伟，还是歌手张伟？", "options": [
            {"entity": "张伟(演员)", "label": "演员张伟"}, {"entity": "张伟(歌手)", "label": hostile}]}}}
    chained = {"question": "三度诱惑的导演的妻子是谁", "result": {
        "question": "三度诱惑的导演的妻子是谁", "reason": None, "answers": ["陈美琪"], "count": None, "shape": "chain",
        "message": "三度诱惑的导演何藩的妻子是陈美琪", "hops": [
            {"from": ["三度诱惑"], "predicate": "导演", "direction": "forward", "to": ["何藩"]},
            {"from": ["何藩"], "predicate": "妻子", "direction": "forward", "to": ["陈美琪"]}]}}
    try:
        page = browser.new_page(locale="zh-CN")
        page.goto(server.base + "/")
        page.evaluate("(turns) => sessionStorage.setItem('kgqa-conversation', JSON.stringify(turns))",
                      [chained, asked_back])
        page.reload()
        page.wait_for_function("document.querySelectorAll('.turn').length === 2")
        assert page.locator(".turn .answer .text").first.text_content() == "三度诱惑的导演何藩的妻子是陈美琪"
        assert "三度诱惑 —导演→ 何藩 —妻子→ 陈美琪" in page.locator("details").first.text_content()
        assert page.locator(".turn .answer .text").nth(1).text_content() == "你问的是演员张伟，还是歌手张伟？"
        buttons = page.locator(".turn .options button")
        assert buttons.count() == 2 and buttons.nth(1).text_content() == hostile
        assert page.locator(".turn img").count() == 0  # the label stayed text
        buttons.first.click()
        page.wait_for_function("document.querySelectorAll('.turn').length === 3")
        assert page.locator(".turn .question").nth(2).text_content() == "演员张伟的妻子是谁"
    finally:
        assert server.stop() == 0
    captured = [line for _, line in server.capture_lines()]
    assert [json.loads(line["captureData"]["endpointInput"]["data"])["question"] for line in captured] == ["演员张伟的妻子是谁"]


def test_the_details_show_the_evidence_and_a_thumbs_down_is_stored(browser, tiny_qa, tmp_path):
    """The answer's details mark subject and object in the sentence it was read from; 👎 with
    the right answer is stored under the inference id the capture holds. Corpus text that looks
    like HTML stays text."""
    settings = copy_workspace(tiny_qa, tmp_path)
    server = Server(settings.paths.root, "--allow-unapproved")
    server.wait_ready()
    hostile = {"question": "假问题", "inferenceId": "chat-old", "rated": "up", "result": {
        "question": "假问题", "reason": None, "answers": ["某人"], "evidence": [{"answer": "某人", "facts": [{
            "subject": "<b>甲</b>", "predicate": "导演", "object": "某人", "score": 0.5, "evidence_count": 1,
            "sentences": [{"text": "<script>window.hacked=1</script><img src=x onerror=alert(1)>某人",
                           "subject": [0, 8], "object": [52, 54], "score": 0.5, "model_version": "kg/v9"}]}]}]}}
    try:
        page = browser.new_page(locale="zh-CN")
        page.goto(server.base + "/")
        page.evaluate("(turns) => sessionStorage.setItem('kgqa-conversation', JSON.stringify(turns))", [hostile])
        page.reload()
        page.wait_for_function("document.querySelectorAll('.turn').length === 1")
        assert page.locator(".evidence img, .evidence script").count() == 0
        assert page.evaluate("window.hacked") is None
        assert page.locator(".evidence mark.subject").first.text_content() == "<script>"
        page.locator("#question").fill("三度诱惑的导演是谁")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('.turn').length === 2")
        turn = page.locator(".turn").nth(1)
        turn.locator("details summary").click()
        details = turn.locator("details")
        assert "依据" in details.text_content() and "gold" in details.text_content()
        assert turn.locator("mark.subject").first.text_content() == "三度诱惑"
        assert turn.locator("mark.object").first.text_content() == "何藩"
        turn.locator("button.rate").nth(1).click()  # 👎
        field = turn.locator(".correction input")
        assert page.evaluate("document.activeElement.placeholder").startswith("正确答案")
        field.fill("何藩先生")
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelectorAll('.rated')[1].textContent === '谢谢，已记录'")
    finally:
        assert server.stop() == 0
    (capture,) = [line for _, line in server.capture_lines()]
    stored = (server.workspace / "datacapture" / "kgqa-local" / "AllTraffic.feedback.jsonl").read_text(encoding="utf-8")
    (row,) = [json.loads(line) for line in stored.splitlines()]
    assert row["inferenceId"] == capture["eventMetadata"]["inferenceId"]
    assert (row["rating"], row["correctAnswer"], row["question"]) == ("down", "何藩先生", "三度诱惑的导演是谁")
