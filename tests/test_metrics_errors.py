"""The extractor's error analysis: each unmatched triple gets one kind."""

from __future__ import annotations

from kgqa_cli.data.records import Record, SlotValues, Triple
from kgqa_cli.extraction.metrics import classify_errors, error_analysis, error_report


def test_each_kind_of_error():
    gold = {("三度诱惑", "导演", "何藩"), ("长街旧梦", "主演", "沈碧云"), ("浮城往事", "编剧", "林晓蔚"),
            ("许晋亨", "妻子", "李嘉欣"), ("决胜", "作者", "钟远山"), ("我乔布斯", "作者", "苏云帆")}
    predicted = {("三度诱惑", "导演", "何藩"),                 # right
                 ("长街旧梦", "主演", "沈碧云等"),            # boundary
                 ("浮城往事", "导演", "林晓蔚"),              # predicate
                 ("决胜", "出品公司", "新星"),                # spurious; 决胜 found, so 钟远山 is a missed object
                 ("李嘉欣", "丈夫", "许晋亨")}                # spurious; 许晋亨 never a subject: missed subject
    kinds = sorted((kind, gold_triple, predicted_triple) for kind, gold_triple, predicted_triple
                   in classify_errors(gold, predicted))
    assert kinds == [
        ("missed object", ("决胜", "作者", "钟远山"), None),
        ("missed subject", ("我乔布斯", "作者", "苏云帆"), None),
        ("missed subject", ("许晋亨", "妻子", "李嘉欣"), None),
        ("spurious triple", None, ("决胜", "出品公司", "新星")),
        ("spurious triple", None, ("李嘉欣", "丈夫", "许晋亨")),
        ("wrong predicate", ("浮城往事", "编剧", "林晓蔚"), ("浮城往事", "导演", "林晓蔚")),
        ("wrong span boundary", ("长街旧梦", "主演", "沈碧云"), ("长街旧梦", "主演", "沈碧云等")),
    ]


def test_analysis_counts_and_reports():
    def record(text, *triples):
        return Record(text=text, spo_list=[Triple(subject=s, predicate=p, object=SlotValues.of(o)) for s, p, o in triples])

    gold = [record("a", ("甲", "导演", "乙")), record("b", ("丙", "导演", "丁")), record("c", ("戊", "作者", "己"))]
    predicted = [record("a"), record("b"), record("c", ("戊", "作者", "己<b>"))]
    analysis = error_analysis(gold, predicted)
    assert analysis["errors"] == 3 and analysis["by_kind"]["missed subject"]["count"] == 2
    assert analysis["most_frequent"][0]["kind"] == "missed subject" and analysis["most_frequent"][0]["count"] == 2
    markdown = error_report(analysis, "errors")
    assert "| missed subject | 2 | 66.7% |" in markdown
    page = error_report(analysis, "errors", html=True)
    assert "己&lt;b&gt;" in page and "己<b>" not in page
