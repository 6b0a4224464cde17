"""What a SageMaker job runs of ours: the source archive (this installed package, the entry
scripts of training and serving, the pinned requirements), and the metric definitions that find
the training figures in a job's log. Training jobs, Processing jobs, models and pipelines all
ship the same archive, and the training container writes its ``code/`` for serving.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import tarfile
from pathlib import Path

ENTRY_SCRIPT = "kgqa_train.py"
INFERENCE_SCRIPT = "inference.py"

# The regexes SageMaker applies to the job's log to chart its metrics; they match the lines
# `kgqa train` logs after each epoch (extraction/train.py, understanding/training.py).
METRIC_DEFINITIONS = {
    "kg": [
        {"Name": "train:loss", "Regex": r"epoch \d+: loss ([0-9.]+), dev P"},
        {"Name": "dev:f1", "Regex": r"dev P [0-9.]+ R [0-9.]+ F1 ([0-9.]+)"},
    ],
    "qa": [
        {"Name": "train:loss", "Regex": r"epoch \d+: loss ([0-9.]+), dev intent"},
        {"Name": "dev:intent_accuracy", "Regex": r"dev intent ([0-9.]+)"},
        {"Name": "dev:slot_f1", "Regex": r"slot f1 ([0-9.]+)"},
    ],
}


def _requirements() -> str:
    """Our runtime dependencies pinned to the installed versions (torch comes with the image)."""
    from importlib.metadata import PackageNotFoundError, requires, version

    from packaging.requirements import Requirement

    lines = []
    for name in ("boto3", "botocore"):  # the Processing jobs' AWS calls (Neptune, SNS); the aws extra here
        with contextlib.suppress(PackageNotFoundError):
            lines.append(f"{name}=={version(name)}")
    for spec in requires("kgqa") or []:
        requirement = Requirement(spec)
        if requirement.marker is not None or requirement.name.lower() == "torch":
            continue  # extras' dependencies, and the framework the image brings
        try:
            lines.append(f"{requirement.name}=={version(requirement.name)}")
        except PackageNotFoundError:
            lines.append(str(requirement))
    return "\n".join(sorted(lines)) + "\n"


def source_members() -> list[tuple[str, bytes]]:
    """The files of the source archive: the entry scripts of training and serving, the pinned
    requirements and every file of the installed kgqa_cli package (sorted, so reproducible)."""
    import kgqa_cli

    package = Path(kgqa_cli.__file__).resolve().parent
    members: list[tuple[str, bytes]] = [
        (ENTRY_SCRIPT, b"import sys\nfrom kgqa_cli.entrypoints.container import main\n\nsys.exit(main())\n"),
        (INFERENCE_SCRIPT, b"from kgqa_cli.serving.inference import input_fn, model_fn, output_fn, predict_fn  "
                           b"# noqa: F401\n"),
        ("requirements.txt", _requirements().encode()),
    ]
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            members.append((f"kgqa_cli/{path.relative_to(package).as_posix()}", path.read_bytes()))
    return members


def pack(members: list[tuple[str, bytes]]) -> bytes:
    """A deterministic ``.tar.gz`` of (name, bytes) members: same files, same bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)  # no time in the gzip header either


def source_archive() -> tuple[bytes, str]:
    """``sourcedir.tar.gz`` (see :func:`source_members`) and its SHA-256."""
    data = pack(source_members())
    return data, hashlib.sha256(data).hexdigest()


def write_inference_code(model_dir: Path) -> None:
    """Put ``code/`` (inference.py, requirements.txt, kgqa_cli) into a model folder, so that its
    ``model.tar.gz`` is what SageMaker's PyTorch serving container runs as it is."""
    for name, data in source_members():
        if name != ENTRY_SCRIPT:
            target = model_dir / "code" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
