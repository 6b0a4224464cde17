"""The dictionary of graph names a question is scanned for, with the ways people write them.

Besides every graph name, the same automaton holds the names as people write them: a bracketed
name without its disambiguator (张伟 for 张伟(演员) and 张伟(歌手)), a transliterated name with
other or no dots or by its last part (贝克汉姆 for 大卫·贝克汉姆), and the objects of the graph's
alias edges (北大 for 北京大学 -简称-> 北大).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kgqa_cli.answering.phrases import PhraseIndex
from kgqa_cli.graph.normalize import normalize_name


@dataclass(frozen=True)
class NameVariant:
    """An entity written otherwise than its graph name: ``method`` is homonym (the name without
    its bracketed disambiguator ``descriptor``), spelling (other or no dots between the parts of a
    transliterated name), transliteration (its last part) or alias (the object of an alias edge)."""

    name: str
    method: str
    descriptor: str | None = None


# A phrase of the dictionary: (whether it is itself a graph name, the entities it also stands for).
NameEntry = tuple[bool, tuple[NameVariant, ...]]

_JUST_A_NAME: NameEntry = (True, ())
# Dots between the parts of a transliterated name (大卫·贝克汉姆), as NFKC leaves them.
_NAME_DOTS = "·・•.‧∙⋅"
_DOT_SPLIT = re.compile(f"[{re.escape(_NAME_DOTS)}]")
# A name ending in a bracket, holding a dot or a space: the only ones with variants (a cheap first test).
_VARIANT_MARKS = re.compile(f"[ {re.escape(_NAME_DOTS)}]|[)】\\]]$")
# A bracketed disambiguator ending a name: 张伟(演员), 张伟_(演员), 张伟【演员】 (NFKC makes （） half-width).
_DISAMBIGUATED = re.compile(r"^(.+?)[\s_]*(?:\(([^()]+)\)|【([^【】]+)】|\[([^\[\]]+)\])$")
_CJK = re.compile(r"[\u3400-\u9fff]")


def build_name_index(names: list[str], min_length: int,
                     aliases: Sequence[tuple[str, str]] = ()) -> PhraseIndex[NameEntry]:
    """The dictionary the scan looks for (phrases of ``min_length`` characters or more): every
    graph name, and every other way an entity is written (:func:`name_variants`; the alias of
    each ``(entity, alias)`` pair). A phrase's value is (whether it is itself a graph name, the
    :class:`NameVariant` entities it also stands for)."""
    entries: dict[str, NameEntry] = {name: _JUST_A_NAME for name in names if len(name) >= min_length}
    written: dict[str, list[NameVariant]] = {}
    for name in names:
        if _VARIANT_MARKS.search(name):
            for phrase, variant in name_variants(name):
                written.setdefault(phrase, []).append(variant)
    for entity, alias in aliases:
        alias = normalize_name(alias).replace(" ", "")  # the scan reads questions without spaces
        if alias and alias != entity:
            written.setdefault(alias, []).append(NameVariant(entity, "alias"))
    for phrase, variants in written.items():
        if len(phrase) >= min_length:
            unique = tuple(dict.fromkeys(v for v in variants if v.name != phrase))
            if unique:
                entries[phrase] = (phrase in entries, unique)
    return PhraseIndex(entries)


def split_disambiguator(name: str) -> tuple[str, str | None]:
    """``张伟(演员)`` -> (``张伟``, ``演员``), ``张伟【演员】`` too; a name without one -> (name, None)."""
    found = _DISAMBIGUATED.match(name)
    if not found:
        return name, None
    return found.group(1), next(part for part in found.groups()[1:] if part)


def name_variants(name: str) -> list[tuple[str, NameVariant]]:
    """(phrase, variant) of the ways people write the graph name ``name`` otherwise: 张伟(演员) as
    张伟 (with descriptor 演员); 大卫·贝克汉姆 as 大卫贝克汉姆, 大卫•贝克汉姆... and as 贝克汉姆.
    Phrases have no spaces, as the question the scan reads (hp pavilion dv2304tx as hppaviliondv2304tx)."""
    found: list[tuple[str, NameVariant]] = []
    if " " in name:
        found.append((name, NameVariant(name, "spelling")))
    base, descriptor = name, None
    bracketed = _DISAMBIGUATED.match(name)
    if bracketed:
        base = bracketed.group(1).strip()
        descriptor = next(part for part in bracketed.groups()[1:] if part).strip()
        if base and descriptor:
            found.append((base, NameVariant(name, "homonym", descriptor)))
    parts = _DOT_SPLIT.split(base)
    # Only a transliteration into Chinese splits at its dots (not 5.8, 3·10地震 or www.x.com).
    if (len(parts) >= 2 and _CJK.search(parts[-1]) and not any(c.isdigit() for c in base)
            and all(any(c.isalpha() for c in part) for part in parts)):
        for spelling in sorted({"".join(parts), *(dot.join(parts) for dot in "·・•.")} - {base}):
            found.append((spelling, NameVariant(name, "spelling", descriptor)))
        found.append((parts[-1], NameVariant(name, "transliteration", descriptor)))
    return [(phrase.replace(" ", ""), variant) for phrase, variant in found]
