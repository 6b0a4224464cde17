"""Rich tables of command results (kept out of the library, which returns plain data)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from rich.panel import Panel

    from kgqa_cli.answering.answer import Answer


def count_table(title: str, headings: list[str], rows: Iterable[tuple[Any, ...]]) -> Table:
    """A table of a label column and right-aligned number columns; rows are ``(label, *numbers)``."""
    table = Table(title=title)
    table.add_column(headings[0])
    for heading in headings[1:]:
        table.add_column(heading, justify="right")
    for label, *numbers in rows:
        table.add_row(label, *(str(number) for number in numbers))
    return table


def preprocess_tables(stats: dict[str, Any]) -> list[Table]:
    """Sentences and triples per split; triples per predicate and split; rejected records."""
    splits = stats["splits"]
    rows = [(name, counts["sentences"], counts["triples"]) for name, counts in splits.items()]
    rows.append((
        "[bold]total", sum(c["sentences"] for c in splits.values()), sum(c["triples"] for c in splits.values())
    ))
    tables = [
        count_table("Corpus splits", ["split", "sentences", "triples"], rows),
        count_table(
            "Triples per predicate", ["predicate", *splits],
            [(predicate, *(counts[name] for name in splits)) for predicate, counts in stats["predicates"].items()],
        ),
    ]
    dropped = {**stats["rejected"]}
    if stats["duplicates_removed"]:
        dropped["exact duplicate"] = stats["duplicates_removed"]
    if stats["overlap_removed"]:
        dropped["text also in given dev/test"] = stats["overlap_removed"]
    if dropped:
        reasons = [(reason.replace("_", " "), count) for reason, count in dropped.items()]
        tables.append(count_table("Records not used", ["reason", "records"], reasons))
    return tables


def bulkload_tables(report: dict[str, Any]) -> list[Table]:
    """Vertices and edges added or present; edges per predicate; triples skipped and why."""
    from kgqa_cli.graph.model import SKIP_REASONS

    tables = [
        count_table(
            "Graph load", ["", "in input", "added", "already present"],
            [(kind, report[kind]["in_input"], report[kind]["added"], report[kind]["already_present"])
             for kind in ("vertices", "edges")],
        ),
        count_table(
            "Edges per predicate", ["predicate", "added", "already present"],
            [(name, c["added"], c["already_present"]) for name, c in report["edges"]["per_predicate"].items()],
        ),
    ]
    skipped = dict(report["skipped"])
    if report["duplicates_merged"]:
        skipped["duplicate"] = report["duplicates_merged"]
    if skipped:
        rows = [
            (SKIP_REASONS.get(reason, "same triple seen again (highest score kept)"), count)
            for reason, count in skipped.items()
        ]
        tables.append(count_table("Triples not loaded as separate edges", ["reason", "triples"], rows))
    return tables


def curve_table(title: str, columns: dict[str, str], curve: list[dict[str, Any]], best_epoch: int) -> Table:
    """Per-epoch training figures: ``columns`` maps a heading to a curve key; the best epoch is green."""
    table = Table(title=title)
    table.add_column("epoch", justify="right")
    for heading in columns:
        table.add_column(heading, justify="right")
    for point in curve:
        table.add_row(
            str(point["epoch"]), *(f"{point[key]:.4f}" for key in columns.values()),
            style="bold green" if point["epoch"] == best_epoch else None,
        )
    return table


def shown(text: str) -> str:
    """User or graph text for a Rich markup string: markup and terminal controls neutralised."""
    from rich.markup import escape

    from kgqa_cli.text import printable

    return escape(printable(text))


EVIDENCE_SHOWN = 5  # answers whose evidence `kgqa ask` prints (--json carries all)


def evidence_lines(evidence: list[dict[str, Any]], label: dict[str, str]) -> str:
    """Rich markup: under each answer, the best sentence of each fact behind it, the subject
    and object marked 【】 (and coloured), then its model version, score and sentence count."""
    from kgqa_cli.answering.details import marked_sentence

    style = {"subject": "bold cyan", "object": "bold green"}
    lines = []
    for item in evidence[:EVIDENCE_SHOWN]:
        lines.append(f"[bold]{shown(str(item.get('answer') or ''))}[/]")
        for fact in item.get("facts") or []:
            sentences = fact.get("sentences") or []
            if not sentences:
                lines.append(f"  [dim]{shown(label['no_evidence'])}[/]")
                continue
            best = sentences[0]
            marked = "".join(f"[{style[role]}]【{shown(part)}】[/]" if role else shown(part)
                             for part, role in marked_sentence(best))
            lines.append(f"  {marked}")
            score = best.get("score")
            about = [str(best.get("model_version") or ""), f"{score:.2f}" if isinstance(score, (int, float)) else "",
                     f"{fact.get('evidence_count') or len(sentences)} {label['sentences']}"]
            lines.append(f"  [dim]{shown(' · '.join(part for part in about if part))}[/]")
    if len(evidence) > EVIDENCE_SHOWN:
        lines.append(f"[dim]… +{len(evidence) - EVIDENCE_SHOWN} (--json)[/]")
    return "\n".join(lines)


def answer_panel(answer: Answer, readings: bool = False, language: str | None = None) -> Panel:
    """One question's intent, slots, linked entity, path, query and answers (`kgqa ask`), row
    labels and the no-answer message in ``language`` (zh or en; default the answer's own);
    a question back (which 张伟?) lists its numbered options; with ``readings``, the (entity,
    edge) readings weighed, best first."""
    from rich.panel import Panel

    from kgqa_cli.answering.details import LABELS

    language = language or answer.language
    label = LABELS["en" if language == "en" else "zh"]
    data = answer.to_json()  # fields an older answer lacks read as absent

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")  # long queries wrap inside the panel instead of being cut
    _understanding_rows(grid, data, label, language)
    if data.get("reason") is None:
        _answer_rows(grid, data, label, language)
    else:
        _no_answer_rows(grid, data, label, language, readings)
    if readings and data.get("readings"):
        grid.add_row(label["readings"], _readings_table(data["readings"], label, language))
    return Panel(grid, title=shown(data.get("question") or "") or label["empty"], title_align="left", expand=False)


def _understanding_rows(grid: Table, data: dict[str, Any], label: dict[str, str], language: str) -> None:
    """What the question was understood as: intent, slots, the linked entity, path, count, query."""
    from kgqa_cli.answering.details import context_text, method_text, path_lines

    if data.get("intent") is not None:
        grid.add_row(label["intent"], f"{shown(data['intent'])} ({data.get('confidence', 0):.2f})")
    if data.get("slots"):
        grid.add_row(label["slots"],
                     "; ".join(f"{shown(name)}: {shown(', '.join(texts))}" for name, texts in data["slots"].items()))
    entity = data.get("entity")
    if entity:
        how = method_text(entity, language)
        if data.get("context"):
            how = context_text(data["context"], language)
        grid.add_row(label["entity"], f"{shown(entity.get('mention') or '')} -> {shown(entity.get('name') or '')} "
                                      f"({shown(how)})")
    path = path_lines(data, language) if data.get("hops") else []
    if path:
        grid.add_row(label["path"], "\n".join(shown(line) for line in path))
    if data.get("count") is not None:
        grid.add_row(label["count"], str(data["count"]))
    if data.get("query"):
        # One traversal a hop, one line each.
        grid.add_row(label["query"], "\n".join(shown(line) for line in data["query"].splitlines()))


def _answer_rows(grid: Table, data: dict[str, Any], label: dict[str, str], language: str) -> None:
    """The answer and the evidence behind it."""
    from kgqa_cli.answering.messages import answer_message

    hops = data.get("hops") or []
    # A count or a chain reads better as the sentence (共3部, 三度诱惑的导演何藩的妻子是…).
    said = answer_message(data, language) if data.get("count") is not None or len(hops) > 1 else ""
    grid.add_row(f"[green]{label['answer']}", shown(said or "、".join(data.get("answers") or [])))
    if data.get("evidence"):
        grid.add_row(label["evidence"], evidence_lines(data["evidence"], label))


def _no_answer_rows(grid: Table, data: dict[str, Any], label: dict[str, str], language: str, readings: bool) -> None:
    """Why there is no answer, the options of a question back, and (with ``readings``) the detail."""
    from kgqa_cli.answering.messages import answer_message

    grid.add_row(f"[yellow]{label['no_answer']}", shown(answer_message(data, language)))
    options = (data.get("clarify") or {}).get("options") or []
    if options:
        lines = [f"{number}. {option.get('label') or option.get('entity')}"
                 + (f" ({option['entity']})" if option.get("entity") and option.get("label") else "")
                 for number, option in enumerate(options, start=1)]
        grid.add_row(label["clarify"], "\n".join(shown(line) for line in lines))
    if data.get("detail") and readings:  # the technical why, for whoever asked for the details
        grid.add_row(f"[dim]{label['detail']}", f"[dim]{shown(data['detail'])}")


def _readings_table(rows: list[dict[str, Any]], label: dict[str, str], language: str) -> Table:
    """The (entity, edge) readings weighed, best first."""
    from kgqa_cli.answering.details import method_text

    table = Table(box=None, padding=(0, 1), show_edge=False)
    columns = ("score", "entity", "found_by", "edge", "intent_p", "keyword")
    for column in columns:
        table.add_column(label[column], justify="right" if column == "score" else "left")
    for row in rows:
        arrow = "->" if row["direction"] == "forward" else "<-"
        table.add_row(f"{row['score']:.2f}", shown(row["entity"]),
                      f"{shown(method_text(row, language))} {row['entity_score']:.2f}",
                      f"{arrow} {shown(row['predicate'])}",
                      f"{shown(row['intent'] or '-')} ({row['intent_probability']:.2f})", shown(row["keyword"] or ""))
    return table
