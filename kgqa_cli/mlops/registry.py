"""A local model registry shaped like SageMaker model package groups.

``<workspace>/registry/<group>/v<N>/`` holds a copy of the model's artifacts and ``package.json``:
metrics, the content hash of the data and artifacts, the git commit, and an approval status
(``PendingManualApproval``, ``Approved``, ``Rejected``). Registering into an existing group adds
a version; promotion changes the status, never copies. Registering artifacts identical to the
latest version returns that version, so re-running a stage does not pile up copies.

Each group has a lock (``registry/<group>/.versions.lock``): processes registering, approving or
rejecting at once queue behind it, so no two get the same number and no history entry is lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kgqa_cli.errors import ApprovalError, ConfigError, MissingArtifactError
from kgqa_cli.io import contained_path, exclusive_lock, write_json

log = logging.getLogger(__name__)

STATUSES = ("PendingManualApproval", "Approved", "Rejected")
# The model groups: the extractor, the question model and the pretrained encoder.
GROUPS = ("kg", "qa", "pretrain")
LOCK_FILE = ".versions.lock"


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version."""

    group: str
    number: int
    path: Path

    @property
    def name(self) -> str:
        """The version string written into outputs, e.g. ``kg/v3``."""
        return f"{self.group}/v{self.number}"

    @property
    def package(self) -> dict:
        """The version's ``package.json`` (metrics, hashes, status)."""
        from kgqa_cli.errors import CorruptArtifactError

        path = self.path / "package.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptArtifactError(f"{path}: not a readable registry record ({exc})") from exc

    @property
    def status(self) -> str:
        return self.package["status"]


# The stage that makes a group's first version; a group not named here: `kgqa train <group>`.
FIRST_VERSION_HINTS = {
    "qa": "run `kgqa questions` then `kgqa train qa` (`make all` runs every stage)",
    "pretrain": "run `kgqa pretrain FILE...` first",
}


def _version_option(group: str, number: int) -> str:
    """The option that picks version ``number`` of ``group``: ``--model vN``, but ``ask``, ``chat``
    and ``label`` take a qa version as ``--qa-model vN`` (``evaluate``, ``deploy`` and ``monitor``
    as ``--model vN``)."""
    option = f"`--model v{number}`"
    return f"{option} (`--qa-model v{number}` for ask, chat and label)" if group == "qa" else option


VERSION_NAME = re.compile(r"((?P<group>[a-z]+)/)?v(?P<number>[1-9][0-9]*)")


def version_number(group: str, version: int | str) -> int:
    """The number of a version given as ``3``, ``"3"``, ``"v3"`` or ``"<group>/v3"``; anything
    else (another group, zero, a path) is a :class:`ConfigError` naming it."""
    if isinstance(version, int) and not isinstance(version, bool):
        text = f"v{version}"
    else:
        text = str(version)
        text = text if text.startswith(("v", f"{group}/")) else f"v{text}"
    match = VERSION_NAME.fullmatch(text)
    if not match or match["group"] not in (None, group):
        raise ConfigError(f"{group} model version {version!r} is not a number such as 3, v3 or {group}/v3")
    return int(match["number"])


def hash_paths(paths: list[Path]) -> str:
    """SHA-256 over the files (names and bytes) under the given paths, in sorted order."""
    digest = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            rel = file.name if root.is_file() else file.relative_to(root).as_posix()
            digest.update(rel.encode() + b"\0")
            with file.open("rb") as handle:
                for chunk in iter(partial(handle.read, 1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> str | None:
    """The current commit of the code, or None outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


@contextmanager
def model_files(folder: Path) -> Iterator[None]:
    """Errors while loading the model files in ``folder`` become one line naming the folder:
    exit 7 when it cannot be read, exit 8 when a file is damaged (truncated, empty, foreign)."""
    from kgqa_cli.errors import CorruptArtifactError, FileSystemError, KgqaError, describe_os_error

    try:
        yield
    except KgqaError:
        raise
    except FileNotFoundError as exc:
        raise CorruptArtifactError(f"{folder}: a model file is missing ({exc.filename})",
                                   hint="retrain, or name another version with --model") from exc
    except OSError as exc:
        raise FileSystemError(describe_os_error(exc, "cannot read the model")) from exc
    except Exception as exc:  # safetensors, JSON and torch errors alike
        detail = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CorruptArtifactError(f"{folder}: the model files cannot be loaded ({detail})",
                                   hint="retrain, or name another version with --model") from exc


class Registry:
    """Model groups and versions below one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def versions(self, group: str) -> list[ModelVersion]:
        """All versions of a group, oldest first."""
        folder = self._group_folder(group)
        if not folder.is_dir():
            return []
        found = [
            ModelVersion(group, int(p.name[1:]), p)
            for p in folder.iterdir()
            if p.is_dir() and re.fullmatch(r"v[1-9][0-9]*", p.name, re.ASCII) and (p / "package.json").exists()
        ]
        return sorted(found, key=lambda v: v.number)

    def _no_version_yet(self, group: str) -> MissingArtifactError:
        """The error for a group with no version, naming the stage that makes its first one."""
        return MissingArtifactError(f"no {group} model in {self.root / group}",
                                    hint=FIRST_VERSION_HINTS.get(group, f"run `kgqa train {group}` first"))

    def get(self, group: str, version: int | str | None = None, *, include_rejected: bool = False) -> ModelVersion:
        """A version by number (``3``, ``"v3"``, ``"kg/v3"``), or the newest one not rejected
        (the newest of all with ``include_rejected``: evaluation re-gates any version)."""
        versions = self.versions(group)
        if version is None or version == "latest":
            if not versions:
                raise self._no_version_yet(group)
            if include_rejected:
                return versions[-1]
            usable = [v for v in versions if v.status != "Rejected"]
            newest = versions[-1]
            if not usable:
                reason = newest.package.get("status_reason")
                raise MissingArtifactError(
                    f"{newest.name}, the newest {group} model, was rejected by its quality gate"
                    + (f" ({reason})" if reason else "") + f"; no {group} version is usable",
                    hint=f"use it anyway with {_version_option(group, newest.number)}, re-gate it with "
                    f"`kgqa evaluate {group} --model v{newest.number}`, or retrain with `kgqa train {group}`",
                )
            if usable[-1] is not newest:
                log.warning("%s was rejected by its quality gate; using %s (pass %s to use the rejected one)",
                            newest.name, usable[-1].name, _version_option(group, newest.number))
            return usable[-1]
        number = version_number(group, version)
        folder = self._version_folder(group, number)
        if not (folder / "package.json").is_file():
            raise MissingArtifactError(f"{group} version {version} is not in {self.root / group}")
        return ModelVersion(group, number, folder)

    def _group_folder(self, group: str) -> Path:
        """The folder of a known group."""
        if group not in GROUPS:
            raise ConfigError(f"model group {group!r} is not one of {', '.join(GROUPS)}")
        return self.root / group

    def _version_folder(self, group: str, number: int) -> Path:
        """The folder of version ``number`` of ``group``; a symbolic link leading out of the group is refused."""
        folder = self._group_folder(group)
        contained_path(folder, f"v{number}", what=f"{group} version folder", error=ConfigError)
        return folder / f"v{number}"

    @contextmanager
    def _group_lock(self, group: str) -> Iterator[None]:
        """Queue behind any other process changing ``group``'s versions."""
        with exclusive_lock(self._group_folder(group) / LOCK_FILE, wait=True, what=f"a change to the {group} registry"):
            yield

    def register(
        self,
        group: str,
        artifacts: Path,
        metrics: dict,
        *,
        data_hash: str | None = None,
        status: str = "PendingManualApproval",
        encoder: dict | None = None,
    ) -> ModelVersion:
        """Copy a model folder in as the next version of ``group`` (or return an identical latest).

        ``encoder`` says which pretrained encoder the model started from (``{"encoder", "kind",
        "revision"}``); None for a model trained from scratch."""
        if status not in STATUSES:
            raise ConfigError(f"approval status {status!r} is not one of {', '.join(STATUSES)}")
        artifact_hash = hash_paths([artifacts])
        with self._group_lock(group):
            return self._publish(group, artifacts, metrics, artifact_hash, data_hash, status, encoder)

    def _publish(
        self, group: str, artifacts: Path, metrics: dict, artifact_hash: str, data_hash: str | None, status: str,
        encoder: dict | None = None,
    ) -> ModelVersion:
        """Copy ``artifacts`` in as the next version; the caller holds the group's lock."""
        for stale in self._group_folder(group).glob(".v*.partial"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a process that died while publishing
        versions = self.versions(group)
        if versions and versions[-1].package.get("artifact_hash") == artifact_hash:
            return versions[-1]
        number = versions[-1].number + 1 if versions else 1
        target = self._version_folder(group, number)
        staging = target.with_name(f".v{number}.partial")
        shutil.copytree(artifacts, staging / "model")
        write_json(staging / "package.json", {
            "group": group,
            "version": number,
            "name": f"{group}/v{number}",
            "status": status,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "metrics": metrics,
            "artifact_hash": artifact_hash,
            "data_hash": data_hash,
            "git_commit": git_commit(),
            "encoder": encoder,
        })
        staging.rename(target)  # atomic: a crash never leaves a half-registered version
        return ModelVersion(group, number, target)

    def set_status(
        self, version: ModelVersion, status: str, reason: str | None = None, by: str | None = None,
        evaluation: dict | None = None,
    ) -> None:
        """Approve or reject a version: the status changes and who/when/why is appended to the
        version's history (as in SageMaker's registry, nothing is copied). ``evaluation``: the
        gate's figures, kept with the version."""
        if status not in STATUSES:
            raise ConfigError(f"approval status {status!r} is not one of {', '.join(STATUSES)}")
        with self._group_lock(version.group):
            package = version.package  # read under the lock: another process may just have written it
            package["status"] = status
            if evaluation is not None:
                package["evaluation"] = evaluation
            if reason:
                package["status_reason"] = reason
            package.setdefault("history", []).append({
                "status": status, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "by": by or current_user(), "reason": reason,
            })
            write_json(version.path / "package.json", package)

    def apply_gate(
        self, version: ModelVersion, passed: bool, reason: str, approve_on_pass: bool, evaluation: dict | None = None
    ) -> str:
        """The status a quality gate gives: a failure rejects; a pass approves when
        ``approve_on_pass``, else leaves the version for a person to approve (a rejected one
        goes back to ``PendingManualApproval``; an approved one stays approved). Returns it."""
        current = version.status
        if not passed:
            status = "Rejected"
        elif approve_on_pass:
            status = "Approved"
        else:
            status = "PendingManualApproval" if current == "Rejected" else current
        self.set_status(version, status, reason=reason, by="quality gate", evaluation=evaluation)
        return status

    def parse_name(self, name: str, default_group: str | None = None) -> ModelVersion:
        """A version named ``group/vN`` (or ``vN`` with a default group), e.g. ``qa/v3``."""
        match = VERSION_NAME.fullmatch(name)
        group = match and (match["group"] or default_group)
        if not match or not group:
            raise ConfigError(f"model version {name!r}: name it as GROUP/vN with GROUP one of "
                              f"{', '.join(GROUPS)} and N a positive number, e.g. qa/v1")
        return self.get(group, f"v{match['number']}")

    def approved(self, group: str, version: int | str | None = None, *, allow_unapproved: bool = False) -> ModelVersion:
        """The version to put into production: the one named (which must be Approved unless
        ``allow_unapproved``), else the newest Approved one. Refusals name the approve command."""
        if version is not None:
            chosen = self.get(group, version)
            if chosen.status != "Approved" and not allow_unapproved:
                raise ApprovalError(
                    f"{chosen.name} is {chosen.status}, not Approved",
                    hint=f"approve it with `kgqa registry approve {chosen.name}` (or pass --allow-unapproved, "
                    "for development only)",
                )
            return chosen
        versions = self.versions(group)
        if not versions:
            raise self._no_version_yet(group)
        approved = [v for v in versions if v.status == "Approved"]
        if approved:
            return approved[-1]
        pending = [v for v in versions if v.status == "PendingManualApproval"]
        if allow_unapproved and pending:
            return pending[-1]
        newest = (pending or versions)[-1]
        raise ApprovalError(
            f"no {group} version is Approved (newest: {newest.name}, {newest.status})",
            hint=f"approve one with `kgqa registry approve {newest.name}`" if newest.status != "Rejected"
            else f"retrain with `kgqa train {group}`, or approve a version with `kgqa registry approve`",
        )

    def groups(self) -> list[str]:
        """Model groups that hold at least one version."""
        return sorted(group for group in GROUPS if self.versions(group))


def current_user() -> str:
    """Who is acting, for the approval history (the login name, else the uid)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        import os

        return f"uid {os.getuid()}"
