"""Small file helpers shared by the stages: atomic writes, folder replacement and JSON lines."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from kgqa_cli.errors import BusyError, FileSystemError, InputDataError, KgqaError, describe_os_error


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


def append_durably(path: Path, data: bytes) -> tuple[int, int]:
    """Append ``data`` (whole lines) to ``path``, flushed and fsynced; returns the (start, end)
    offsets of what was written, for a caller that may take it back.

    All of it lands or none: a failed write (a full disk) is cut off again. A last line that an
    earlier writer left without its newline (a kill mid-write) is ended first, so that it stays
    one unreadable line of its own instead of swallowing the first line written now. The caller
    serialises writers (a lock) where several may append at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                data = b"\n" + data
        try:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            handle.truncate(size)
            raise
        return size, handle.tell()


def read_user_text(path: Path, what: str, *, key: str | None = None, hint: str | None = None) -> str:
    """The text of a file a user named (UTF-8, a leading BOM dropped). A missing file, a folder,
    bytes that are not UTF-8 are :class:`InputDataError` naming it (after ``key``, the config key
    it came from, if any); another read failure is :class:`FileSystemError`."""
    named = f"{key} {path}" if key else str(path)
    path = Path(path)
    if path.is_dir():
        raise InputDataError(f"{named}: is a folder, not a {what}")
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise InputDataError(f"{named}: no such {what}", hint=hint) from exc
    except UnicodeDecodeError as exc:
        raise InputDataError(f"{named}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, f"cannot read the {what}")) from exc


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


def contained_path(
    root: Path, relative: str, *, what: str, error: type[KgqaError] = InputDataError
) -> Path:
    """``root / relative``, refused unless it stays inside ``root`` once resolved.

    Use it wherever a string from outside (an S3 key, a version name, an export name) becomes a
    path: an absolute string, a ``..`` that climbs out, an empty part or a symbolic link that
    leads elsewhere is refused with ``error`` naming ``what`` and the string.
    """
    text = str(relative)
    parts = PurePosixPath(text.replace("\\", "/")).parts
    if (
        not text
        or "\x00" in text
        or text.startswith(("/", "\\"))
        or any(part in ("..", ".", "") for part in parts)
        or text.endswith(("/.", "/"))
        or text == "."
        or "//" in text
    ):
        raise error(f"{what} {text!r} is not a plain relative path inside {root}")
    base = Path(root).resolve()
    target = (base / text).resolve()
    if target != base and base not in target.parents:
        raise error(f"{what} {text!r} leads outside {root}")
    return target


@contextmanager
def exclusive_lock(
    lock_file: Path, *, wait: bool, what: str, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Hold an ``flock`` on ``lock_file`` for the block.

    The kernel drops the lock when its holder dies, so a ``kill -9`` never leaves it held.
    ``wait=True`` queues behind the holder (short critical sections such as a registry update),
    calling ``on_wait`` first when it has to; ``wait=False`` refuses at once with
    :class:`BusyError` naming ``what`` (a long stage that a second run should not silently wait
    for).
    """
    import fcntl

    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_file, "a")  # noqa: SIM115 - held across the yield
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, "cannot write here")) from exc
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise BusyError(
                    f"{what} is already running in this workspace (lock {lock_file})",
                    hint="wait for it to finish, or use another workspace",
                ) from None
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # releases the lock


class BadLines:
    """What a line reader does with a line it cannot use: skip it, count it and warn
    ``file:line: reason`` (the rest is still read), or with ``strict`` stop at it with
    :class:`InputDataError`. Only the first ``shown`` lines are warned of one by one, so that a
    corrupt file cannot flood the log; :meth:`summary` gives the total."""

    def __init__(self, strict: bool = False, shown: int = 20) -> None:
        self.strict = strict
        self.shown = shown
        self.count = 0

    def report(self, path: Path, number: int, reason: str) -> None:
        """One unusable line: fatal when strict, else skipped and counted."""
        import logging

        if self.strict:
            raise InputDataError(f"{path}:{number}: {reason}")
        self.count += 1
        if self.count <= self.shown:
            logging.getLogger(__name__).warning("%s:%d: %s (line skipped)", path, number, reason)

    def summary(self, what: str) -> None:
        """Warn once of the total skipped (when more were skipped than warned of one by one)."""
        import logging

        if self.count > self.shown:
            logging.getLogger(__name__).warning("%d unreadable lines skipped in the %s (%d shown)", self.count, what,
                                                self.shown)


def read_json_lines(paths: Iterable[Path], bad: BadLines) -> Iterator[tuple[Path, int, dict]]:
    """(file, line number, object) of every non-empty line of JSON-lines files, file by file.

    Files are read as bytes and each line decoded on its own, so one line that is not UTF-8, not
    JSON, not an object or torn (the last line cut short by a full disk or a power cut) costs that
    line alone: it goes to ``bad``. A file that cannot be opened is a :class:`FileSystemError`.
    """
    for path in paths:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below; the generator may pause inside
        except OSError as exc:
            raise FileSystemError(describe_os_error(exc, "cannot read")) from exc
        with handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                torn = "" if raw.endswith(b"\n") else "the last line is cut short: "
                try:
                    record = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    bad.report(path, number, f"{torn}not UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})")
                    continue
                except ValueError as exc:
                    bad.report(path, number, f"{torn}not JSON ({exc})")
                    continue
                if not isinstance(record, dict):
                    bad.report(path, number, f"not a JSON object ({type(record).__name__})")
                    continue
                yield path, number, record
