"""Conversation state: the turns a follow-up question (他还导演了哪些电影) may refer back to, one
conversation at the terminal, or many by session id as an endpoint keeps them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Turn:
    """What a question of a conversation was about and what it answered."""

    question: str
    entity: str | None
    answers: list[str]


@dataclass
class Conversation:
    """The turns a follow-up question may refer back to (most recent last, at most ``limit``)."""

    turns: list[Turn] = field(default_factory=list)
    limit: int = 8

    def remember(self, question: str, entity: str | None, answers: list[str]) -> None:
        """Add a turn; an unanswered question with no entity leaves the context as it was."""
        if entity is None and not answers:
            return
        self.turns.append(Turn(question, entity, list(answers)))
        del self.turns[: -self.limit]

    def reset(self) -> None:
        """Forget every turn."""
        self.turns.clear()

    def referents(self) -> list[tuple[str, int, str]]:
        """(name, turns back, role) in the order a reference is resolved: the last turn's only
        answer, its entity, its answers when several; then the turn before, and so on."""
        found: list[tuple[str, int, str]] = []
        for back, turn in enumerate(reversed(self.turns), start=1):
            if len(turn.answers) == 1:
                found.append((turn.answers[0], back, "answer"))
            if turn.entity:
                found.append((turn.entity, back, "entity"))
            if len(turn.answers) > 1:
                found.extend((answer, back, "answer") for answer in turn.answers)
        return found


class Conversations:
    """Conversations by session id, as an endpoint keeps them: at most ``max_sessions`` (the least
    recently used dropped first), each forgotten after ``ttl_seconds`` without a question."""

    def __init__(self, max_sessions: int, ttl_seconds: float, max_turns: int,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.max_sessions = max_sessions
        self.ttl_seconds = ttl_seconds
        self.max_turns = max_turns
        self._clock = clock or time.monotonic
        self._sessions: OrderedDict[str, tuple[float, Conversation]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> Conversation:
        """The conversation of ``session_id`` (a new one when unknown or expired)."""
        now = self._clock()
        while self._sessions:  # the least recently used first: stop at the first one still fresh
            oldest_id, (used, _) = next(iter(self._sessions.items()))
            if now - used <= self.ttl_seconds:
                break
            del self._sessions[oldest_id]
        held = self._sessions.pop(session_id, None)
        conversation = held[1] if held is not None else Conversation(limit=self.max_turns)
        self._sessions[session_id] = (now, conversation)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return conversation

    def reset(self, session_id: str) -> None:
        """Forget one conversation."""
        self._sessions.pop(session_id, None)
