"""Entity-name normalisation shared by the loader and the question-answering stage.

The graph holds one vertex per normalised name, and the QA stage links question text to vertices
with the same function, so both sides must agree on it exactly.
"""

from __future__ import annotations

import re
import unicodedata

# Brackets and quotes that wrap a name in running text (《三度诱惑》, 「决胜」, "name") but are not
# part of it. NFKC has already turned full-width ASCII quotes into their half-width forms.
_WRAPPERS = {
    "《": "》",
    "〈": "〉",
    "「": "」",
    "『": "』",
    "“": "”",
    "‘": "’",
    '"': '"',
    "'": "'",
}
_WHITESPACE = re.compile(r"\s+")


def normalize_name(text: str) -> str:
    """The canonical form of an entity name: NFKC, single spaces, no wrapping 《》/「」/quotes.

    Full-width letters, digits and punctuation become half-width (NFKC); runs of whitespace
    (including ideographic spaces) collapse to one space and the ends are stripped; matching
    wrappers around the whole name are removed, repeatedly (《「name」》 -> name). Chinese
    characters are kept as they are. An empty result means the name carries no content.
    """
    name = _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", str(text))).strip()
    while len(name) >= 2 and _WRAPPERS.get(name[0]) == name[-1]:
        name = name[1:-1].strip()
    return name
