"""Distillation: a trained extractor (an ensemble most usefully) teaches a new one.

Before training, the teacher reads every training sentence once; its probability at each subject
pointer, and at each object pointer of every labelled subject, joins the label in the target
(``kg.train.distill.weight`` of it). The student thus learns where the teacher is unsure as well
as what it decides, in one network that extracts at one network's speed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kgqa_cli.errors import ConfigError
from kgqa_cli.extraction.labels import Example

log = logging.getLogger(__name__)


def attach_teacher(examples: list[Example], texts: list[str], registry_root: Path, version: str,
                   channels: list[str], bfloat16: bool | str = "auto", batch_size: int = 64) -> None:
    """Give each example (``texts[i]`` is the text of ``examples[i]``, cut as its ids are) the
    probabilities of the registered kg ``version`` at its pointers (``Example.teacher``)."""
    from kgqa_cli.extraction.predict import load_registered
    from kgqa_cli.torch_setup import resolve_bfloat16
    from kgqa_cli.ui import progress

    teacher = load_registered(registry_root, version)
    if teacher.channels != channels:
        raise ConfigError(f"kg.train.distill.teacher: {teacher.version} has other output channels than this corpus's "
                          "schema", hint="name a version trained on the same schema")
    low_precision = resolve_bfloat16(bfloat16, teacher.device.type)
    # Longest first, in batches of similar length: little padding.
    order = sorted((i for i, example in enumerate(examples) if example.ids), key=lambda i: -len(texts[i]))
    with progress(transient=True) as bar:
        task = bar.add_task(f"teacher {teacher.version}", total=len(order))
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            found = teacher.pointer_probabilities(
                [texts[i] for i in chosen], [sorted(examples[i].subjects) for i in chosen], bfloat16=low_precision)
            for i, probabilities in zip(chosen, found, strict=True):
                examples[i].teacher = probabilities
            bar.advance(task, len(chosen))
    log.info("teacher %s: probabilities of %d sentences (%d members)", teacher.version, len(order),
             len(teacher.members))
