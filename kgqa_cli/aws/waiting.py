"""Waiting on AWS, always with an end: every wait gives up after ``aws.wait_timeout_minutes``
with a :class:`CloudError` (exit 10) that names what it waited for. What it waited for goes on
in AWS; the hint says how to look at it again.

boto3's own waiters are used where the service defines one (SageMaker jobs and endpoints,
Neptune instances); :class:`Deadline` bounds the loops that do more than wait (the job follower
printing CloudWatch log lines, the Neptune load reporting its progress).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from kgqa_cli.errors import CloudError


def _shown(minutes: float) -> str:
    seconds = minutes * 60
    return f"{minutes:g} minute(s)" if seconds >= 60 else f"{seconds:g} s"


class Deadline:
    """The end of one wait: ``minutes`` after it was made."""

    def __init__(self, minutes: float, what: str, hint: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.minutes, self.what, self.hint, self.clock = minutes, what, hint, clock
        self.ends = clock() + minutes * 60

    def remaining(self) -> float:
        """Seconds left (0 once past)."""
        return max(0.0, self.ends - self.clock())

    def error(self) -> CloudError:
        """The error of a wait that ran out of time."""
        return CloudError(f"gave up waiting for {self.what} after {_shown(self.minutes)} (aws.wait_timeout_minutes)",
                          hint=self.hint or "it goes on in AWS; raise aws.wait_timeout_minutes to wait longer")

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` or until the deadline; past it, raise :meth:`error`."""
        left = self.remaining()
        if left <= 0:
            raise self.error()
        time.sleep(min(seconds, left))
        if self.remaining() <= 0:
            raise self.error()


def wait_with_waiter(client: Any, waiter_name: str, what: str, minutes: float, poll_seconds: float,
                     hint: str | None = None, failure_is_an_answer: bool = False, **kwargs: Any) -> None:
    """Run boto3's waiter ``waiter_name`` with ``kwargs``, polling every ``poll_seconds`` for at
    most ``minutes``. Running out of time is one :class:`CloudError`; so is a failure state,
    unless ``failure_is_an_answer`` (the caller reads the final state and explains it itself)."""
    from botocore.exceptions import WaiterError

    deadline = Deadline(minutes, what, hint)
    delay = max(poll_seconds, 0.01)
    attempts = max(1, math.ceil(minutes * 60 / delay) + 1)
    try:
        client.get_waiter(waiter_name).wait(WaiterConfig={"Delay": delay, "MaxAttempts": attempts}, **kwargs)
    except WaiterError as exc:
        if "Max attempts exceeded" in str(exc):
            raise deadline.error() from exc
        if failure_is_an_answer and "terminal failure state" in str(exc):
            return
        last = exc.last_response or {}
        reason = (last.get("Error") or {}).get("Message") or last.get("FailureReason") or exc.kwargs.get("reason")
        raise CloudError(f"{what} failed: {reason}") from exc
