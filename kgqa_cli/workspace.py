"""The workspace: the one folder every stage writes under, laid out as S3 prefixes would be.

This class is the one place that knows the layout; stages ask it for paths. On AWS the same
relative paths become keys under ``s3://bucket/prefix/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    """Paths of every stage's inputs and outputs below ``root``."""

    root: Path

    @property
    def raw_dir(self) -> Path:
        """Raw input corpora (the demo corpus is generated here)."""
        return self.root / "data" / "raw"

    @property
    def corpus_dir(self) -> Path:
        """Preprocessed splits, schema and statistics."""
        return self.root / "data" / "corpus"

    def split_file(self, split: str) -> Path:
        """One preprocessed split: ``train``, ``dev`` or ``test``."""
        return self.corpus_dir / f"{split}.jsonl"

    @property
    def schema_file(self) -> Path:
        """The schema in DuIE format, one predicate a line."""
        return self.corpus_dir / "schema.jsonl"

    @property
    def questions_dir(self) -> Path:
        """Generated question data for the question model."""
        return self.root / "data" / "questions"

    def model_dir(self, kind: str) -> Path:
        """Training output of a model kind (``kg`` or ``qa``): checkpoints and the best model."""
        return self.root / "models" / kind

    @property
    def registry_dir(self) -> Path:
        """The local model registry: one folder per model group and version."""
        return self.root / "registry"

    def evaluation_dir(self, kind: str) -> Path:
        """Evaluation reports of a model kind."""
        return self.root / "evaluation" / kind

    @property
    def extract_dir(self) -> Path:
        """Triples extracted by batch inference."""
        return self.root / "extract"

    @property
    def graph_dir(self) -> Path:
        """The embedded graph database file."""
        return self.root / "graph"

    @property
    def bulkload_dir(self) -> Path:
        """Neptune bulk-load CSV files."""
        return self.root / "bulkload"

    @property
    def datacapture_dir(self) -> Path:
        """Captured endpoint traffic, as SageMaker's data capture lays it out."""
        return self.root / "datacapture"

    @property
    def groundtruth_dir(self) -> Path:
        """Ground-truth labels of captured traffic (Model Monitor's format)."""
        return self.root / "groundtruth"

    @property
    def feedback_file(self) -> Path:
        """Labelled questions from `kgqa label`, for retraining the question model."""
        return self.feedback_dir / "feedback.jsonl"

    @property
    def kg_feedback_file(self) -> Path:
        """Reviewed triples with their sentences from `kgqa label triples`, for retraining the extractor."""
        return self.feedback_dir / "kg.jsonl"

    @property
    def monitoring_dir(self) -> Path:
        """Baselines and runs of `kgqa monitor`."""
        return self.root / "monitoring"

    @property
    def bench_dir(self) -> Path:
        """Scratch space of benchmarks."""
        return self.root / "bench"

    @property
    def feedback_dir(self) -> Path:
        """Labelled data for retraining: `kgqa label`'s questions and reviewed triples."""
        return self.root / "data" / "feedback"

    @property
    def triples_file(self) -> Path:
        """The extracted triples, one sentence's record a line."""
        return self.extract_dir / "triples.jsonl"

    @property
    def transform_dir(self) -> Path:
        """Batch Transform outputs of the kg pipeline, one folder per execution."""
        return self.extract_dir / "transform"

    @property
    def baseline_dir(self) -> Path:
        """The monitoring baselines, one folder per model version."""
        return self.monitoring_dir / "baseline"

    @property
    def monitor_runs_dir(self) -> Path:
        """The runs of `kgqa monitor run`, one folder per run."""
        return self.monitoring_dir / "runs"

    @property
    def sagemaker_monitor_dir(self) -> Path:
        """The runs of SageMaker monitor jobs, one folder per job."""
        return self.monitoring_dir / "sagemaker"

    def pipeline_dir(self, kind: str) -> Path:
        """A SageMaker pipeline's definition and the config its steps read (`kgqa pipeline build`)."""
        return self.root / "pipelines" / kind

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, with forward slashes: its key under the workspace's S3
        prefix, and its place under a job's copy of the workspace."""
        return path.relative_to(self.root).as_posix()


def ensure_writable(folders: list[Path]) -> None:
    """Check, before any long work starts, that each folder exists or can be made and takes a
    new file; raises :class:`~kgqa_cli.errors.FileSystemError` naming the first one that does not.

    Permission bits alone do not tell (root ignores them, a read-only mount overrides them), so a
    file is really created and removed.
    """
    import os
    import tempfile

    from kgqa_cli.errors import FileSystemError, describe_os_error

    for folder in dict.fromkeys(Path(f) for f in folders):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".kgqa-write-check.", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            if exc.filename is None:
                exc.filename = str(folder)
            raise FileSystemError(describe_os_error(exc, "cannot write here")) from exc
