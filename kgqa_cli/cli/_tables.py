"""Rich tables of command results (kept out of the library, which returns plain data)."""

from __future__ import annotations

from rich.table import Table


def preprocess_tables(stats: dict) -> list[Table]:
    """Sentences and triples per split; triples per predicate and split; rejected records."""
    splits = Table(title="Corpus splits")
    splits.add_column("split")
    splits.add_column("sentences", justify="right")
    splits.add_column("triples", justify="right")
    for name, counts in stats["splits"].items():
        splits.add_row(name, str(counts["sentences"]), str(counts["triples"]))
    splits.add_row(
        "[bold]total",
        str(sum(c["sentences"] for c in stats["splits"].values())),
        str(sum(c["triples"] for c in stats["splits"].values())),
    )
    predicates = Table(title="Triples per predicate")
    predicates.add_column("predicate")
    for name in stats["splits"]:
        predicates.add_column(name, justify="right")
    for predicate, counts in stats["predicates"].items():
        predicates.add_row(predicate, *(str(counts[name]) for name in stats["splits"]))
    tables = [splits, predicates]
    dropped = {**stats["rejected"]}
    if stats["duplicates_removed"]:
        dropped["exact duplicate"] = stats["duplicates_removed"]
    if stats["overlap_removed"]:
        dropped["text also in given dev/test"] = stats["overlap_removed"]
    if dropped:
        rejected = Table(title="Records not used")
        rejected.add_column("reason")
        rejected.add_column("records", justify="right")
        for reason, count in dropped.items():
            rejected.add_row(reason.replace("_", " "), str(count))
        tables.append(rejected)
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


def answer_panel(answer):
    """One question's intent, slots, linked entity, query and answers (`kgqa ask`)."""
    from rich.markup import escape
    from rich.panel import Panel

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
        grid.add_row("entity", f"{escape(entity['mention'])} -> {escape(entity['name'])} ({how})")
    if answer.query:
        grid.add_row("query", escape(answer.query))
    if answer.answered:
        grid.add_row("[green]answer", escape("、".join(answer.answers)))
    else:
        detail = f": {escape(answer.detail)}" if answer.detail else ""
        grid.add_row("[yellow]no answer", f"{escape(answer.reason)}{detail}")
    return Panel(grid, title=escape(answer.question) or "(empty)", title_align="left", expand=False)
