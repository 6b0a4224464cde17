"""Small file helpers shared by the stages: atomic writes, folder replacement and JSON lines."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process's umask (read without changing it where Linux allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting, then put back
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the new one, never half of one.

    A file that already holds exactly this text is left untouched, so its modification time (and
    with it every Make target downstream) stays as it was when a re-run changes nothing.
    """
    data = text.encode("utf-8")
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file 0600; the result gets the mode any other tool would give it.
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_line(record: Any) -> str:
    """One JSON line as every stage writes it: UTF-8 characters kept, no trailing spaces."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "))


def write_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Write records as JSON lines atomically; returns how many were written."""
    lines = [dumps_line(record) for record in records]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
    return len(lines)


def write_json(path: Path, data: Any) -> None:
    """Write an indented JSON document atomically."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def replace_folder(staging: Path, folder: Path) -> None:
    """Put the finished ``staging`` folder in the place of ``folder`` by renames: never a mix of
    old and new files (a crash between the two renames leaves the old one as ``.NAME.old``)."""
    import shutil

    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
