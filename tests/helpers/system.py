"""What a test needs from the machine: where it is missing, a developer's run skips the test and
CI (the environment variable CI set, as .ci/run sets it) fails it, so a CI image that lost a
package cannot turn a test into a silent skip."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(present: bool, what: str, how: str) -> None:
    """Go on if ``present``; else skip, or fail under CI. ``how`` says how to install ``what``."""
    if present:
        return
    if in_ci():
        pytest.fail(f"{what} is missing on this CI machine and the test cannot run: {how}", pytrace=False)
    pytest.skip(f"{what} is not installed ({how})")


def has_font(family: str) -> bool:
    """Whether fontconfig knows a font of ``family`` (case-insensitive)."""
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list"], capture_output=True, text=True, timeout=60).stdout
    return family.lower() in listed.lower()
