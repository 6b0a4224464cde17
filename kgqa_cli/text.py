"""Text safety at the edges: user text made valid UTF-8 on the way in and harmless on the way out.

Two rules hold everywhere. Text that came from outside (a command-line argument, a request, a
file line) may hold lone surrogates (``surrogateescape`` turns undecodable argv bytes into
them), which cannot be encoded as UTF-8 or JSON: :func:`valid_text` replaces them. Text shown to
a person may hold terminal escape sequences (``\\x1b]0;...`` retitles a terminal, ``\\x1b[2J``
clears it) or bidirectional overrides: :func:`printable` shows them as visible escapes instead.
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"

_SURROGATE = re.compile("[\ud800-\udfff]")

# Categories that a terminal interprets rather than shows: C0/C1 controls (Cc), format
# characters such as bidi overrides and zero-width joiners (Cf), and lone surrogates (Cs).
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs"}


def valid_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD, so that it encodes as UTF-8."""
    return _SURROGATE.sub(REPLACEMENT, text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: controls, format characters and surrogates are
    written as visible escapes (``\\x1b``, ``\\u202e``); everything else is kept, Chinese included."""
    if text.isprintable():  # the common case, checked in C
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in _HIDDEN_CATEGORIES else char for char in text
    )
