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
