"""Rich tables of command results (kept out of the library, which returns plain data)."""

from __future__ import annotations

from rich.table import Table


def count_table(title: str, headings: list[str], rows) -> Table:
    """A table of a label column and right-aligned number columns; rows are ``(label, *numbers)``."""
    table = Table(title=title)
    table.add_column(headings[0])
    for heading in headings[1:]:
        table.add_column(heading, justify="right")
    for label, *numbers in rows:
        table.add_row(label, *(str(number) for number in numbers))
    return table


def preprocess_tables(stats: dict) -> list[Table]:
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
        rows = [(reason.replace("_", " "), count) for reason, count in dropped.items()]
        tables.append(count_table("Records not used", ["reason", "records"], rows))
    return tables


def bulkload_tables(report: dict) -> list[Table]:
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


def curve_table(title: str, columns: dict[str, str], curve: list[dict], best_epoch: int) -> Table:
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


def answer_panel(answer, readings: bool = False):
    """One question's intent, slots, linked entity, query and answers (`kgqa ask`); with
    ``readings``, the (entity, edge) readings weighed, best first."""
    from rich.panel import Panel

    escape = shown

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")  # long queries wrap inside the panel instead of being cut
    if answer.intent is not None:
        grid.add_row("intent", f"{escape(answer.intent)} ({answer.confidence:.2f})")
    if answer.slots:
        grid.add_row("slots", "; ".join(f"{escape(name)}: {escape(', '.join(texts))}" for name, texts in answer.slots.items()))
    if answer.entity:
        entity = answer.entity
        how = entity["method"] if entity["method"] != "fuzzy" else f"fuzzy {entity['similarity']:.2f}"
        if answer.context:
            how = f"from the conversation: {escape(answer.context['reference'])}"
        grid.add_row("entity", f"{escape(entity['mention'])} -> {escape(entity['name'])} ({how})")
    if answer.query:
        grid.add_row("query", escape(answer.query))
    if answer.answered:
        grid.add_row("[green]answer", escape("、".join(answer.answers)))
    else:
        detail = f": {escape(answer.detail)}" if answer.detail else ""
        grid.add_row("[yellow]no answer", f"{escape(answer.reason)}{detail}")
    if readings and answer.readings:
        table = Table(box=None, padding=(0, 1), show_edge=False)
        for column in ("score", "entity", "found by", "edge", "intent (p)", "keyword"):
            table.add_column(column, justify="right" if column == "score" else "left")
        for row in answer.readings:
            arrow = "->" if row["direction"] == "forward" else "<-"
            table.add_row(f"{row['score']:.2f}", escape(row["entity"]), f"{row['method']} {row['entity_score']:.2f}",
                          f"{arrow} {escape(row['predicate'])}",
                          f"{escape(row['intent'] or '-')} ({row['intent_probability']:.2f})", escape(row["keyword"] or ""))
        grid.add_row("readings", table)
    return Panel(grid, title=escape(answer.question) or "(empty)", title_align="left", expand=False)
