"""``kgqa bulkload``: corpus-format triples -> Neptune CSV files and the configured graph."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgqa_cli.errors import MissingArtifactError
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.graph.load import BatchCallback, choose_loader, default_input, load_graph_data
from kgqa_cli.graph.model import SKIP_REASONS, build_graph_data
from kgqa_cli.graph.neptune_csv import write_neptune_csv
from kgqa_cli.graph.store import open_graph
from kgqa_cli.workspace import Workspace

log = logging.getLogger(__name__)


def _rate_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Elements per second of a task (triples/s on the edge task)."""

        def render(self, task: Any) -> Text:
            unit = task.fields.get("unit", "/s")
            return Text(f"{task.speed:,.0f} {unit}" if task.speed else f"- {unit}", style="cyan")

    return RateColumn()


def run_bulkload(
    config: GraphConfig,
    workspace: Workspace,
    input_path: Path | None = None,
    *,
    show_progress: bool = True,
    on_batch: BatchCallback | None = None,
    loader: str | None = None,
) -> dict[str, Any]:
    """Read triples, write ``vertices.csv``/``edges.csv`` and load the graph; returns a report.

    ``config.mode`` ``replace`` empties the graph first, ``merge`` adds to it. ``on_batch`` is
    called after every committed batch (after the progress bar is advanced). ``loader``
    (direct|batched|naive) overrides the choice ``config.loader`` makes (benchmarks use it).
    """
    from kgqa_cli.data.corpus import load_corpus

    path = Path(input_path) if input_path is not None else (config.input or default_input(workspace))
    if not path.exists():
        raise MissingArtifactError(
            f"{path}: no triples to load", hint="run `kgqa extract` first, or pass a corpus-format file"
        )
    records = load_corpus(path)
    data = build_graph_data(records, source=path.name, min_score=config.min_score)
    csv_paths = write_neptune_csv(data, workspace.bulkload_dir)
    log.info("read %d triples from %s: %d vertices, %d edges", data.triples_read, path, len(data.vertices),
             len(data.edges))

    with open_graph(config, workspace) as store:
        if config.mode == "replace":
            store.clear()
        loader = loader or choose_loader(config.loader, store)
        batch_size = config.direct_batch_size if loader == "direct" else config.batch_size
        callback = on_batch
        if show_progress:
            from kgqa_cli.ui import progress

            bar = progress(_rate_column())
            bar.start()
            tasks = {
                "vertices": bar.add_task("vertices", total=len(data.vertices), unit="vertices/s"),
                "edges": bar.add_task("triples", total=len(data.edges), unit="triples/s"),
            }

            def callback(phase: str, count: int, _inner: Callable | None = on_batch) -> None:
                bar.advance(tasks[phase], count)
                if _inner:
                    _inner(phase, count)
        try:
            counts, seconds = load_graph_data(store, data, batch_size, callback, loader=loader)
        finally:
            if show_progress:
                bar.stop()
        location = store.location

    predicates = sorted(set(counts.edges_added) | set(counts.edges_existing))
    loaded = sum(counts.edges_added.values()) + sum(counts.edges_existing.values())
    return {
        "input": str(path),
        "graph": location,
        "mode": config.mode,
        "loader": loader,
        "triples_read": data.triples_read,
        "duplicates_merged": data.duplicates,
        "skipped": {reason: data.skipped[reason] for reason in SKIP_REASONS if data.skipped[reason]},
        "vertices": {
            "in_input": len(data.vertices),
            "added": counts.vertices_added,
            "already_present": counts.vertices_existing,
            "types_added_to_existing": counts.types_added,
        },
        "edges": {
            "in_input": len(data.edges),
            "added": sum(counts.edges_added.values()),
            "already_present": sum(counts.edges_existing.values()),
            "per_predicate": {
                p: {"added": counts.edges_added[p], "already_present": counts.edges_existing[p]} for p in predicates
            },
        },
        "csv": {name: str(p) for name, p in csv_paths.items()},
        "seconds": round(seconds, 3),
        "triples_per_second": round(loaded / seconds, 1) if seconds > 0 else None,
    }
