"""The feedback loops on the `make all` workspace, end to end, with pictures for docs/.

The question model (``--part qa``):

1. `kgqa deploy` (the qa version allowed unapproved) answers the eight demo questions and ten
   off-schema questions, several times each; the traffic is captured.
2. The label UI is opened on that queue (headless, Textual's pilot) and its screen saved as
   docs/label-ui.png; then `kgqa label --import` labels every captured question.
3. `kgqa monitor baseline` and `kgqa monitor run` write the contract files and the report; the
   report's page is saved as docs/monitor-report.png (headless chromium).
4. A deliberately wrong label set makes `monitor run` exit 9 and POST an alert to a local receiver.

The extractor (``--part kg``), on a copy of the workspace's graph:

1. Wrong triples are planted: in sentences of the demo corpus that state two facts, the subject
   of one with the object of the other (``--planted`` of them, the extractor's usual mistake),
   merged into the graph as the current kg version's; one of them is asked about.
2. A reviewer goes through the uniform review sample, as `kgqa label triples --import`: a
   triple the demo corpus states is accepted, any other rejected, and every fifth planted
   triple corrected to the fact its sentence states.
3. The planted triples are gone from the graph and from the answer; a `bulkload --replace` of
   the same triples keeps them out.
4. `make retrain-kg`'s stages (preprocess with the reviewed sentences, train kg, evaluate kg)
   register a new kg version pending approval.
5. `kgqa monitor kg` estimates the precision from the reviewed sample and reports the drop (exit
   9), beside the share actually planted.

It works in scratch copies (<workspace>/bench/feedback-loop*) and leaves the workspace as it was.
Usage: python scripts/demo_feedback_loop.py [--part qa|kg|all] [--workspace DIR] [--docs DIR] [--planted N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.data.records import Record, SlotValues

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests"))

from bench_qa import DEMO_QUESTIONS  # noqa: E402
from test_monitor import Receiver  # noqa: E402
from test_serving import Server, ask  # noqa: E402

KGQA = [sys.executable, "-m", "kgqa_cli.cli.main"]
OFF_SCHEMA = ["今天天气怎么样", "你好", "帮我订一张去上海的机票", "讲个笑话吧", "现在几点了", "一加一等于几",
              "推荐一首歌", "你叫什么名字", "明天会下雨吗", "怎么做红烧肉"]
# The right intents of the demo questions (as the demo corpus and the templates define them).
DEMO_INTENTS = ["ask_director", "ask_films", "ask_author", "ask_author", "ask_wife", "ask_wife", "ask_author",
                "ask_school"]


def browser_screenshot(url: str, target: Path, width: int = 1100) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(url)
        page.screenshot(path=str(target), full_page=True)
        browser.close()


def label_ui_picture(settings, target: Path) -> None:
    """`kgqa label` in a real terminal (tmux, 110 x 28), its screen turned into a picture: the
    terminal's cells as HTML (Rich), rendered by chromium with a CJK monospace font."""
    import time

    from rich.console import Console
    from rich.text import Text

    if shutil.which("tmux") is None:
        print("no tmux here: the label UI picture is left as it was", file=sys.stderr)
        return
    session = "kgqa-label-picture"
    command = f"{' '.join(KGQA)} label --workspace {settings.paths.root}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "110", "-y", "28", command], check=True)
    try:
        time.sleep(6)  # the model's intents and the queue load
        subprocess.run(["tmux", "send-keys", "-t", session, "s"], check=True)  # on to a question with alternatives
        time.sleep(1)
        screen = subprocess.run(["tmux", "capture-pane", "-e", "-p", "-t", session], capture_output=True,
                                text=True, check=True).stdout
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
    finally:
        time.sleep(1)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    console = Console(record=True, width=110, file=open("/dev/null", "w"), force_terminal=True)  # noqa: SIM115
    console.print(Text.from_ansi(screen))
    page = settings.paths.root / "label-ui.html"
    html = console.export_html(inline_styles=True, code_format=(
        "<!doctype html><html><head><meta charset='utf-8'><style>body {{ margin: 0; background: #0c0c0c; }}"
        "pre {{ font-family: 'DejaVu Sans Mono', 'WenQuanYi Zen Hei Mono', monospace; font-size: 15px;"
        " line-height: 1.25; color: #cccccc; padding: 12px; margin: 0; }}</style></head>"
        "<body><pre><code>{code}</code></pre></body></html>"))
    page.write_text(html, encoding="utf-8")
    browser_screenshot(page.as_uri(), target, width=1010)


def plant_wrong_triples(workspace: Path, count: int, version: str) -> tuple[list[Record], set[tuple]]:
    """Extraction records of ``count`` wrong triples in demo sentences that state two facts (one
    fact's subject with the other's object), and the demo corpus's true triples."""
    demo = load_corpus(workspace / "data" / "raw" / "demo" / "duie_train.json")
    gold = {spo.key for record in demo for spo in record.spo_list}
    planted = []
    for record in demo:
        objects = sorted({spo.object.value for spo in record.spo_list})
        first = record.spo_list[0]
        wrong = next((o for o in objects if o != first.object.value
                      and (first.subject, first.predicate, o) not in gold and o != first.subject), None)
        if wrong is None:
            continue
        planted.append(Record(text=record.text, model_version=version, spo_list=[
            first.model_copy(update={"object": SlotValues.of(wrong), "score": 0.62})]))
        if len(planted) == count:
            break
    return planted, gold


def kg_loop(workspace: Path, planted_count: int) -> None:
    """Plant wrong triples, review them, see them gone, retrain, monitor (see the docstring)."""
    from kgqa_cli.labeling.triple_queue import graph_triples
    from kgqa_cli.settings import load_settings

    scratch = workspace / "bench" / "feedback-loop-kg"
    shutil.rmtree(scratch, ignore_errors=True)
    for part in ("registry", "graph", "data", "extract"):
        shutil.copytree(workspace / part, scratch / "ws" / part)
    ws = ["--workspace", str(scratch / "ws")]
    settings = load_settings(None, {"workspace": str(scratch / "ws")})
    registry = json.loads(subprocess.run([*KGQA, "registry", "list", "--json", *ws], capture_output=True,
                                         text=True, check=True).stdout)
    version = [row["name"] for row in registry if row["group"] == "kg"][-1]
    planted, gold = plant_wrong_triples(workspace, planted_count, version)
    planted_file = scratch / "planted.jsonl"
    planted_file.write_text("".join(json.dumps(r.to_json(), ensure_ascii=False) + "\n" for r in planted),
                            encoding="utf-8")
    subprocess.run([*KGQA, "bulkload", str(planted_file), *ws], check=True, capture_output=True)
    probe = planted[0].spo_list[0]
    question = f"{probe.subject}的{probe.predicate}是谁"

    def answers() -> list[str]:
        done = subprocess.run([*KGQA, "ask", question, "--json", *ws], capture_output=True, text=True, check=True)
        return json.loads(done.stdout)["answers"]

    before = answers()
    triples = graph_triples(settings)
    sample = [item for item in triples if item.uniform]
    planted_keys = {r.spo_list[0].key for r in planted}
    rows, corrected, seen = [], 0, 0
    demo = {record.text: record for record in load_corpus(workspace / "data" / "raw" / "demo" / "duie_train.json")}
    for item in sample:
        key = (item.subject, item.predicate, item.object)
        if key in gold:
            rows.append({"uid": item.uid, "decision": "accept"})
            continue
        row = {"uid": item.uid, "decision": "reject"}
        text = (item.sentence or {}).get("text")
        seen += key in planted_keys
        if key in planted_keys and seen % 5 == 0 and text in demo:
            right = demo[text].spo_list[0]
            row = {"uid": item.uid, "decision": "correct", "corrected_subject": right.subject,
                   "corrected_predicate": right.predicate, "corrected_object": right.object.value}
            corrected += 1
        rows.append(row)
    # Every planted triple is reviewed too (those outside the sample come first in a real queue).
    sampled = {item.uid for item in sample}
    for item in triples:
        if (item.subject, item.predicate, item.object) in planted_keys and item.uid not in sampled:
            rows.append({"uid": item.uid, "decision": "reject"})
    decisions = scratch / "decisions.jsonl"
    decisions.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    done = subprocess.run([*KGQA, "label", "triples", "--import", str(decisions), "--json", *ws],
                          capture_output=True, text=True, check=True)
    applied = json.loads(done.stdout)["applied"]
    after = answers()
    left = [item for item in graph_triples(settings) if (item.subject, item.predicate, item.object) in planted_keys]
    subprocess.run([*KGQA, "bulkload", str(planted_file), "--replace", *ws], check=True, capture_output=True)
    after_replace = [i for i in graph_triples(settings) if (i.subject, i.predicate, i.object) in planted_keys]
    share = len(planted) / (len(triples) or 1)
    print(f"planted {len(planted)} wrong triples among {len(triples)} extracted ({share:.1%}); "
          f"{question}: {before} before the review, {after} after")
    print(f"reviewed {len(rows)} triples ({len(sample)} of the uniform sample, {corrected} corrected): "
          f"{applied['removed_from_graph']} removed from the graph, {applied['added_to_graph']} corrections added; "
          f"planted triples left: {len(left)}, after a replace of the planted file: {len(after_replace)}")
    # `make retrain-kg`, on the scratch copy: its gate approves nothing.
    for stage in (["preprocess"], ["train", "kg"], ["evaluate", "kg", "--kg.evaluate.approve_on_pass", "false"]):
        subprocess.run([*KGQA, *stage, *ws], check=True, capture_output=True)
    registry = json.loads(subprocess.run([*KGQA, "registry", "list", "--json", *ws], capture_output=True,
                                         text=True, check=True).stdout)
    newest = [row for row in registry if row["group"] == "kg"][-1]
    print(f"retrained: {newest['name']} {newest['status']}, test F1 {newest['metrics'].get('test_f1')} "
          "(the reviewed sentences of the demo are its own training corpus, mostly already in train)")
    # The demo extractor's precision on its own corpus is about 0.98 (its test precision): a limit of
    # 0.9 is what a team would hold it to, and the planted share takes it below.
    monitor = subprocess.run([*KGQA, "monitor", "kg", "--json", "--monitor.kg.min_precision", "0.9", *ws],
                             capture_output=True, text=True)
    summary = json.loads(monitor.stdout)
    print(f"monitor kg: exit {monitor.returncode}, precision {summary['precision']} (95 % interval "
          f"{summary['interval'][0]}-{summary['interval'][1]}, {summary['reviewed']} reviewed); the planted share "
          f"puts it at {1 - share:.3f}; report {summary['report']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("qa", "kg", "all"), default="all")
    parser.add_argument("--workspace", type=Path, default=REPO / "workspace")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    parser.add_argument("--planted", type=int, default=2500, help="wrong triples planted in the kg part")
    args = parser.parse_args()
    if args.part in ("kg", "all"):
        kg_loop(args.workspace, args.planted)
    if args.part in ("qa", "all"):
        qa_loop(args.workspace, args.docs)


def qa_loop(workspace: Path, docs: Path) -> None:
    """The question model's loop (see the docstring)."""
    from kgqa_cli.settings import load_settings

    args = argparse.Namespace(workspace=workspace, docs=docs)
    scratch = args.workspace / "bench" / "feedback-loop"
    shutil.rmtree(scratch, ignore_errors=True)
    for part in ("registry", "graph", "data/questions"):
        shutil.copytree(args.workspace / part, scratch / "ws" / part)
    settings = load_settings(None, {"workspace": str(scratch / "ws")})
    workspace = ["--workspace", str(scratch / "ws")]
    server = Server(scratch / "ws", "--allow-unapproved")
    server.wait_ready()
    for _ in range(3):
        for question in [q for q, _ in DEMO_QUESTIONS] + OFF_SCHEMA:
            assert ask(server.base, question)[0] == 200
    assert server.stop() == 0
    args.docs.mkdir(parents=True, exist_ok=True)
    label_ui_picture(settings, args.docs / "label-ui.png")
    rows = [{"question": q, "intent": i} for (q, _), i in zip(DEMO_QUESTIONS, DEMO_INTENTS, strict=True)]
    rows += [{"question": q, "intent": "none"} for q in OFF_SCHEMA]
    labels = scratch / "labels.jsonl"
    labels.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    subprocess.run([*KGQA, "label", "--import", str(labels), *workspace], check=True)
    # Limits for this traffic (10 off-schema questions to 8 in-schema ones, unlike the baseline's
    # test set): with the defaults the intent mix, unknown characters and answered share already
    # count as drift, and 今天天气怎么样 -> ask_climate as a model error.
    window = ["--start-offset", "-PT1H", "--end-offset", "PT1M", "--monitor.min_labels", "30",
              "--monitor.threshold_margin", "0.1", "--monitor.drift.unknown_char_rate", "0.1",
              "--monitor.drift.intent_js_distance", "0.95", "--monitor.drift.min_answered_share", "0.4"]
    subprocess.run([*KGQA, "monitor", "baseline", "--monitor.threshold_margin", "0.1", *workspace], check=True)
    done = subprocess.run([*KGQA, "monitor", "run", *window, "--json", *workspace], capture_output=True, text=True)
    print(done.stderr, file=sys.stderr)
    summary = json.loads(done.stdout)
    print(f"monitor run: exit {done.returncode}, labelled {summary['labelled']}, metrics {summary['metrics']}")
    browser_screenshot(Path(summary["report"]).resolve().as_uri(), args.docs / "monitor-report.png")
    wrong = scratch / "wrong.jsonl"
    wrong.write_text("".join(json.dumps({"question": r["question"], "intent": "ask_capital"}, ensure_ascii=False) + "\n"
                             for r in rows), encoding="utf-8")
    subprocess.run([*KGQA, "label", "--import", str(wrong), *workspace], check=True)
    receiver = Receiver()
    try:
        failed = subprocess.run([*KGQA, "monitor", "run", *window, "--alerts.webhook", receiver.url, *workspace],
                                capture_output=True, text=True)
    finally:
        receiver.close()
    print(f"wrong labels: exit {failed.returncode}; {failed.stderr.strip().splitlines()[-1]}")
    print(f"alerts received by {receiver.url}: {[a['kind'] for a in receiver.received]}")


if __name__ == "__main__":
    main()
