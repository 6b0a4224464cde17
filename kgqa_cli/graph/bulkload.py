"""``kgqa bulkload``: corpus-format triples -> Neptune CSV files and the configured graph."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa_cli.errors import InputDataError, MissingArtifactError
from kgqa_cli.graph.batches import BatchCallback, LoadCounts
from kgqa_cli.graph.build import GraphBuild
from kgqa_cli.graph.config import GraphConfig
from kgqa_cli.graph.graph_file import graph_file, writer_lock
from kgqa_cli.graph.load import choose_loader, default_input, load_graph_data
from kgqa_cli.graph.model import SKIP_REASONS, GraphData, build_graph_data
from kgqa_cli.graph.neptune_csv import write_neptune_csv
from kgqa_cli.graph.store import GraphStore, open_graph
from kgqa_cli.workspace import Workspace, ensure_writable

if TYPE_CHECKING:
    from rich.progress import ProgressColumn, Task

log = logging.getLogger(__name__)


def _rate_column() -> ProgressColumn:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Elements per second of a task (triples/s on the edge task)."""

        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit", "/s")
            return Text(f"{task.speed:,.0f} {unit}" if task.speed else f"- {unit}", style="cyan")

    return RateColumn()


def _load_into(
    store: GraphStore, data: GraphData, config: GraphConfig, loader: str | None, show_progress: bool,
    on_batch: BatchCallback | None, fresh: bool = False,
) -> tuple[LoadCounts, float, str]:
    """Run the chosen loader on an open store with progress; returns (counts, seconds, loader).
    ``fresh``: the store is a new, empty file (a replacement being built), which the direct
    loader writes in one go ("build")."""
    from kgqa_cli import faults

    if loader is None:  # a loader named by the caller (benchmarks) is used as named
        loader = choose_loader(config.loader, store)
        if fresh and loader == "direct":
            loader = "build"
    batch_size = config.direct_batch_size if loader == "direct" else config.batch_size

    def callback(phase: str, count: int) -> None:
        if show_progress:
            bar.advance(tasks[phase], count)
        if on_batch:
            on_batch(phase, count)
        faults.point(f"bulkload.{phase}_batch")

    if show_progress:
        from kgqa_cli.ui import progress

        bar = progress(_rate_column())
        bar.start()
        tasks = {
            "vertices": bar.add_task("vertices", total=len(data.vertices), unit="vertices/s"),
            "edges": bar.add_task("triples", total=len(data.edges), unit="triples/s"),
        }
    try:
        counts, seconds = load_graph_data(store, data, batch_size, callback, loader=loader)
    finally:
        if show_progress:
            bar.stop()
    return counts, seconds, loader


def _sample_fact(data: GraphData) -> tuple[str, str, str] | None:
    """One fact of the input, (subject name, predicate, object name), to look up in a new graph."""
    edges = data.sorted_edges()
    if not edges:
        return None
    edge = edges[0]
    return data.vertices[edge.source_uid].name, edge.predicate, data.vertices[edge.target_uid].name


def input_file(config: GraphConfig, workspace: Workspace, input_path: Path | None) -> Path:
    """The triples to load: the given file, else ``graph.input``, else the extraction output."""
    path = Path(input_path) if input_path is not None else (config.input or default_input(workspace))
    if not path.exists():
        raise MissingArtifactError(
            f"{path}: no triples to load", hint="run `kgqa extract` first, or pass a corpus-format file"
        )
    return path


def read_graph_data(config: GraphConfig, path: Path, reviews: Path | None = None) -> GraphData:
    """The vertices and edges of a corpus-format file (``graph.min_score`` and ``graph.evidence``
    applied) with the verdicts of ``reviews`` (a decisions file of `kgqa label triples`): the
    triples people rejected or corrected left out, their corrections added."""
    from kgqa_cli.data.corpus import load_corpus
    from kgqa_cli.graph.reviews import review_overlay

    reviewed_out, corrected = review_overlay(reviews) if reviews is not None else (set(), [])
    return build_graph_data(load_corpus(path), source=path.name, min_score=config.min_score,
                            evidence=config.evidence.policy(), reviewed_out=reviewed_out, corrections=corrected)


def run_bulkload(
    config: GraphConfig,
    workspace: Workspace,
    input_path: Path | None = None,
    *,
    show_progress: bool = True,
    on_batch: BatchCallback | None = None,
    loader: str | None = None,
    allow_empty: bool = False,
) -> dict[str, Any]:
    """Read triples, write ``vertices.csv``/``edges.csv`` and load the graph; returns a report.

    ``config.mode`` ``replace`` builds a new graph from the input alone (for the embedded file:
    in a new file beside the live one, checked, then renamed over it, so readers never see a
    partial graph and a crash leaves the old one); it refuses an input with no triples unless
    ``allow_empty``. ``merge`` adds to the graph in committed batches. ``on_batch`` is called after
    every committed batch. ``loader`` (direct|batched|naive) overrides the choice
    ``config.loader`` makes (benchmarks use it).
    """
    from kgqa_cli.graph.reviews import reviews_file

    path = input_file(config, workspace, input_path)
    embedded = config.url is None
    ensure_writable([workspace.bulkload_dir, *([graph_file(config, workspace).parent] if embedded else [])])
    data = read_graph_data(config, path, reviews_file(workspace))
    if config.mode == "replace" and not data.edges and not allow_empty:
        raise InputDataError(
            f"{path}: no triples to load ({data.triples_read} read, {sum(data.skipped.values())} skipped); "
            "--replace would leave an empty graph",
            hint="pass --allow-empty to empty the graph on purpose",
        )
    csv_paths = write_neptune_csv(data, workspace.bulkload_dir)
    log.info("read %d triples from %s: %d vertices, %d edges", data.triples_read, path, len(data.vertices),
             len(data.edges))
    loaded = _load(config, workspace, data, path, loader, show_progress, on_batch)
    return _report(path, config, data, loaded, csv_paths)


@dataclass
class _Loaded:
    """What a load did and where: its counts, seconds, the loader that ran and the graph."""

    counts: LoadCounts
    seconds: float
    loader: str
    location: str


def _load(config: GraphConfig, workspace: Workspace, data: GraphData, path: Path, loader: str | None,
          show_progress: bool, on_batch: BatchCallback | None) -> _Loaded:
    """Load ``data`` the way ``config`` says: a replacement of the embedded file built beside it, a
    merge into it under the writer lock, or a server's graph (emptied first to replace it)."""
    embedded = config.url is None
    loaded_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if embedded and config.mode == "replace":
        target = graph_file(config, workspace)
        with writer_lock(target), GraphBuild(config, workspace) as build:
            assert build.store is not None
            counts, seconds, loader = _load_into(build.store, data, config, loader, show_progress, on_batch,
                                                 fresh=True)
            build.publish(len(data.vertices), len(data.edges), _sample_fact(data), source=str(path),
                          loaded_at=loaded_at)
        location = str(target)
    elif embedded:
        with writer_lock(graph_file(config, workspace)), open_graph(config, workspace, create=True) as store:
            counts, seconds, loader = _load_into(store, data, config, loader, show_progress, on_batch)
            location = store.location
    else:
        with open_graph(config, workspace) as store:
            if config.mode == "replace":
                store.clear()  # a server cannot swap graphs: emptied, then loaded
            counts, seconds, loader = _load_into(store, data, config, loader, show_progress, on_batch)
            location = store.location
    return _Loaded(counts, seconds, loader, location)


def _report(path: Path, config: GraphConfig, data: GraphData, loaded: _Loaded,
            csv_paths: dict[str, Path]) -> dict[str, Any]:
    """The report of `kgqa bulkload` (its JSON output)."""
    counts, seconds = loaded.counts, loaded.seconds
    predicates = sorted(set(counts.edges_added) | set(counts.edges_existing))
    loaded_edges = sum(counts.edges_added.values()) + sum(counts.edges_existing.values())
    return {
        "input": str(path),
        "graph": loaded.location,
        "mode": config.mode,
        "loader": loaded.loader,
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
            "evidence_added": counts.evidence_added,
            "per_predicate": {
                p: {"added": counts.edges_added[p], "already_present": counts.edges_existing[p]} for p in predicates
            },
        },
        "csv": {name: str(p) for name, p in csv_paths.items()},
        "seconds": round(seconds, 3),
        "triples_per_second": round(loaded_edges / seconds, 1) if seconds > 0 else None,
    }
