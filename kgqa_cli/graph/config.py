"""Config of the graph layer and of ``kgqa bulkload``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from kgqa_cli.config import StrictModel

if TYPE_CHECKING:
    from kgqa_cli.graph.evidence import EvidencePolicy


class EvidenceConfig(StrictModel):
    """What each edge keeps of the sentences it was read from."""

    per_edge: int = Field(3, ge=0, le=100, description="sentences kept in full on each edge, best score first "
                          "(each with its text, the subject and object offsets, score and model version); 0: keep "
                          "no evidence")
    max_chars: int = Field(200, ge=20, le=100_000, description="a longer sentence is kept as a window of this many "
                           "characters around its subject and object")
    max_ids: int = Field(1000, ge=1, le=1_000_000, description="sentence ids kept per edge for its evidence_count "
                         "(the count stops growing there)")

    def policy(self) -> EvidencePolicy:
        """The policy the graph model applies (imported when asked for: a config module imports
        no runtime code at load)."""
        from kgqa_cli.graph.evidence import EvidencePolicy

        return EvidencePolicy(self.per_edge, self.max_chars, self.max_ids)


class ReviewConfig(StrictModel):
    """Which extracted triples `kgqa label triples` puts before people, beyond those used in answers."""

    sample_rate: float = Field(0.05, gt=0, le=1, description="share of the extracted triples in the uniform sample "
                               "(chosen by a hash of each triple): their verdicts estimate the extractor's precision")
    threshold: float = Field(0.5, ge=0, le=1, description="the score around which triples are doubtful")
    band: float = Field(0.15, ge=0, le=1, description="triples scored within this distance of threshold come next")


class GraphConfig(StrictModel):
    """Which graph to use (embedded file or Gremlin server) and how to bulk-load it."""

    url: str | None = Field(
        None, description="Gremlin server URL (ws:// or wss://: Neptune, JanusGraph, ...); null: embedded file"
    )
    path: Path | None = Field(None, description="embedded SQLite graph file; null: <workspace>/graph/kgqa.db")
    traversal_source: str = Field("g", description="traversal source name on the server")
    sigv4: bool = Field(False, description="sign the server's websocket handshake with AWS SigV4 (Neptune with "
                        "IAM database authentication); credentials from boto3's chain")
    input: Path | None = Field(
        None, description="triples to load (corpus format); null: <workspace>/extract/triples.jsonl"
    )
    batch_size: int = Field(500, ge=1, le=20000, description="elements per traversal and per transaction")
    loader: Literal["auto", "traversal", "direct"] = Field(
        "auto",
        description="how bulkload writes: direct (embedded graph only: straight into gremlite's tables), "
        "traversal (batched Gremlin traversals), auto (direct for the embedded graph, traversal for servers)",
    )
    direct_batch_size: int = Field(
        10000, ge=1, le=1_000_000,
        description="elements per transaction of the direct loader (a commit costs an fsync, so larger)",
    )
    mode: Literal["merge", "replace"] = Field("merge", description="merge into the graph or replace it")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="triples scored below this are skipped")
    evidence: EvidenceConfig = EvidenceConfig()
    review: ReviewConfig = ReviewConfig()

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss:// (or be null for the embedded graph)")
        return value

    @model_validator(mode="after")
    def _direct_needs_embedded(self) -> GraphConfig:
        if self.loader == "direct" and self.url is not None:
            raise ValueError("loader 'direct' writes the embedded graph file only; use auto or traversal with a url")
        return self
