"""`kgqa label triples`: extracted triples reviewed by people, in the real Textual UI (pilot) and
by --import; the graph drops what they reject, keeps it out of later loads, takes corrections,
and the extractor's training data gains the reviewed sentences."""

from __future__ import annotations

import asyncio
import json

from helpers.review import invoke

from kgqa_cli.data.corpus import load_corpus
from kgqa_cli.graph.model import triple_uid


def answers(settings, question: str) -> list[str]:
    result = invoke(settings, "ask", question, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["answers"]


def test_imported_verdicts_leave_the_graph_stay_out_and_become_training_data(planted, tmp_path):
    settings, extraction = planted
    assert set(answers(settings, "三度诱惑的导演是谁")) == {"何藩", "李嘉欣"}
    waiting = json.loads(invoke(settings, "label", "triples", "--json", "--graph.review.sample_rate", "1").stdout)
    assert waiting["triples"] == 3 and waiting["waiting"] == 3  # gold triples are not reviewed
    assert waiting["waiting_by_sample"]["threshold"] >= 1  # 0.55 is near the threshold
    decisions = tmp_path / "decisions.csv"
    decisions.write_text(
        "subject,predicate,object,decision,corrected_subject,corrected_predicate,corrected_object\n"
        "三度诱惑,导演,李嘉欣,reject,,,\n"
        "许晋亨,丈夫,李嘉欣,correct,许晋亨,妻子,李嘉欣\n"
        "长短脚,导演,何藩,accept,,,\n", encoding="utf-8")
    result = invoke(settings, "label", "triples", "--import", str(decisions), "--json",
                    "--graph.review.sample_rate", "1")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["imported"] == {"rows": 3, "accept": 1, "reject": 1, "correct": 1}
    assert report["applied"]["removed_from_graph"] == 2 and report["applied"]["added_to_graph"] == 0
    assert answers(settings, "三度诱惑的导演是谁") == ["何藩"]  # the rejected triple is no longer answered
    again = json.loads(invoke(settings, "label", "triples", "--import", str(decisions), "--json",
                              "--graph.review.sample_rate", "1").stdout)
    assert again["applied"]["removed_from_graph"] == 0  # applying twice changes nothing
    # A later replace from the same extraction keeps the rejected triple out, the correction in.
    assert invoke(settings, "bulkload", str(extraction), "--replace", "--allow-empty").exit_code == 0
    assert answers(settings, "三度诱惑的导演是谁") == []
    graph = json.loads(invoke(settings, "graph", "--about", "许晋亨", "--json").stdout)
    facts = {(f["subject"], f["predicate"], f["object"]) for f in graph["about"]["许晋亨"]}
    assert ("许晋亨", "妻子", "李嘉欣") in facts and ("许晋亨", "丈夫", "李嘉欣") not in facts
    # The reviewed sentences are training data; preprocess merges them into train.
    feedback = load_corpus(settings.paths.kg_feedback_file)
    assert {(r.text, r.spo_list[0].predicate) for r in feedback} == {
        ("许晋亨迎娶了李嘉欣", "妻子"), ("何藩执导了电影长短脚", "导演")}
    corrected = next(r for r in feedback if r.text == "许晋亨迎娶了李嘉欣").spo_list[0]
    assert corrected.subject_type == "人物" and corrected.object_span == [6, 9]
    stats = json.loads(invoke(settings, "preprocess", str(settings.preprocess.input), "--json",
                              "--preprocess.dev_ratio", "0.1", "--preprocess.test_ratio", "0.1").stdout)
    assert stats["review_feedback"]["sentences_added"] == 2
    train = settings.paths.split_file("train").read_text(encoding="utf-8")
    assert "许晋亨迎娶了李嘉欣" in train
    exported = tmp_path / "all.jsonl"
    assert invoke(settings, "label", "triples", "--export", str(exported)).exit_code == 0
    rows = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert sorted(row["decision"] for row in rows) == ["accept", "correct", "reject"]
    assert all(row["uniform"] for row in rows)  # sample_rate 1: every triple is in the uniform sample


def test_an_unknown_triple_or_predicate_in_an_import_names_its_line(planted, tmp_path):
    settings, _ = planted
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"subject": "无此人", "predicate": "导演", "object": "某人", "decision": "reject"},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    result = invoke(settings, "label", "triples", "--import", str(bad))
    assert result.exit_code == 3 and "bad.jsonl:1" in result.output and "no extracted triple" in result.output
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"uid": triple_uid("长短脚", "导演", "何藩"), "decision": "correct",
                                 "corrected_subject": "长短脚", "corrected_predicate": "作者",
                                 "corrected_object": "何藩"}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = invoke(settings, "label", "triples", "--import", str(wrong))
    assert result.exit_code == 3 and "wrong.jsonl:1" in result.output and "not in the schema" in result.output
    assert not (settings.paths.root / "reviews" / "triples.jsonl").exists()  # nothing half written


def test_review_in_the_terminal_ui_accept_reject_correct_undo_and_quit(planted):
    from kgqa_cli.graph.reviews import read_reviews, reviews_file
    from kgqa_cli.labeling.triples import ReviewSession
    from kgqa_cli.labeling.triples_app import ReviewApp

    settings, _ = planted
    settings = settings.model_copy(update={"graph": settings.graph.model_copy(update={
        "review": settings.graph.review.model_copy(update={"sample_rate": 1.0})})})
    session = ReviewSession(settings)
    order = [(item.subject, item.predicate, item.object) for item in session.queue]
    assert order[0] == ("三度诱惑", "导演", "李嘉欣")  # nearest the threshold first

    async def review() -> ReviewApp:
        review_app = ReviewApp(session)
        async with review_app.run_test(size=(100, 30)) as pilot:
            assert "李嘉欣" in str(review_app.query_one("#sentence").content)
            await pilot.press("r")                                # reject: one key
            await pilot.press("enter")                            # accept the next: one key
            await pilot.press("u")                                # undo it
            await pilot.pause()
            assert session.position == 1
            await pilot.press("p", *"妻子", "enter")              # another predicate
            await pilot.pause()
            await pilot.press("question_mark")
            await pilot.press("x")
            await pilot.press("q")
        return review_app

    asyncio.run(review())
    latest = read_reviews(reviews_file(settings.paths))
    assert sorted(row["decision"] for row in latest.values()) == ["correct", "reject"]
    assert session.reviewed == 2
    lines = reviews_file(settings.paths).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2  # the undone accept was cut off the file


def test_a_decision_after_a_torn_last_line_is_kept_and_bad_imports_name_their_line(planted, tmp_path):
    """A kill mid-write left the decisions file's last line without its newline: the next
    decision is its own line, the torn one is skipped with its line number. An import that is a
    folder, a CSV row wider than its header or a JSON line that is not an object is refused,
    naming it, before anything is written."""
    from kgqa_cli.graph.reviews import read_reviews, reviews_file
    from kgqa_cli.io import BadLines

    settings, _ = planted
    path = reviews_file(settings.paths)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"uid": "e:torn", "decision": "rej')
    bad = []
    for name, text in (("wide.csv", "subject,predicate,object,decision\n长短脚,导演,何藩,accept,extra\n"),
                       ("list.jsonl", '["长短脚", "导演", "何藩"]\n')):
        bad.append(tmp_path / name)
        bad[-1].write_text(text, encoding="utf-8")
    for source, words in ((tmp_path, "is a folder"), (bad[0], "wide.csv:2: 5 cells"), (bad[1], "list.jsonl:1")):
        refused = invoke(settings, "label", "triples", "--import", str(source))
        assert refused.exit_code == 3 and words in refused.output.replace("\n", " ")
    assert path.read_bytes() == b'{"uid": "e:torn", "decision": "rej'  # nothing written
    good = tmp_path / "good.csv"
    good.write_text("subject,predicate,object,decision\n长短脚,导演,何藩,accept\n", encoding="utf-8")
    assert invoke(settings, "label", "triples", "--import", str(good)).exit_code == 0
    counted = BadLines()
    latest = read_reviews(path, counted)
    assert [row["decision"] for row in latest.values()] == ["accept"] and counted.count == 1
