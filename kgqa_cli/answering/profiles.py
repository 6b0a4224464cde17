"""What the graph says about its entities, read once and kept: the dictionary of its names (and
the ways people write them) and, per entity, its types and the labels of its edges."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kgqa_cli.answering.names import NameEntry, build_name_index
from kgqa_cli.answering.phrases import PhraseIndex

if TYPE_CHECKING:
    from gremlin_python.process.graph_traversal import GraphTraversalSource

    from kgqa_cli.answering.config import AskConfig
    from kgqa_cli.answering.linking import EntityLinker


@dataclass
class Profile:
    """What the graph says about one entity: its types and the labels of its edges."""

    types: frozenset[str]
    out_labels: frozenset[str]
    in_labels: frozenset[str]


class GraphProfiles:
    """The name dictionary and entity profiles of one graph connection, built on demand and
    dropped by :meth:`follow_graph` when another graph replaces it."""

    def __init__(self, g: GraphTraversalSource, config: AskConfig, linker: EntityLinker) -> None:
        self.g = g
        self.config = config
        self.linker = linker
        self._kinds_of_type: dict[str, set[str]] = {}
        for kind, types in config.context.types.items():
            for type_name in types:
                self._kinds_of_type.setdefault(type_name, set()).add(kind)
        self._names: PhraseIndex[NameEntry] | None = None
        self._profiles: OrderedDict[str, Profile | None] = OrderedDict()

    def follow_graph(self, g: GraphTraversalSource, linker: EntityLinker) -> None:
        """Read another graph from now on: its name dictionary and entity profiles are rebuilt
        on demand (a `bulkload --replace` swapped it in)."""
        self.g, self.linker = g, linker
        self._names = None
        self._profiles.clear()

    def name_index(self) -> PhraseIndex[NameEntry]:
        """The dictionary of the graph's names (built on the first call)."""
        if self._names is None:
            from kgqa_cli.graph.queries import entity_aliases, entity_names

            names = entity_names(self.g)
            self.linker.share_names(names)  # the linker's fuzzy match reads the same list: read it once
            aliases = entity_aliases(self.g, self.config.interpretation.alias_predicates)
            self._names = build_name_index(names, self.config.interpretation.scan_min_length, aliases)
        return self._names

    def profile(self, name: str) -> Profile | None:
        """Types and edge labels of the entity ``name`` (None when there is no such entity)."""
        if name in self._profiles:
            self._profiles.move_to_end(name)
            return self._profiles[name]
        from kgqa_cli.graph.queries import entity_profile

        found = entity_profile(self.g, name)
        profile = None if found is None else Profile(frozenset(found["types"]), frozenset(found["out"]),
                                                     frozenset(found["in"]))
        self._profiles[name] = profile
        if len(self._profiles) > self.config.interpretation.profile_cache:
            self._profiles.popitem(last=False)
        return profile

    def kind_of(self, profile: Profile | None) -> set[str]:
        """The reference kinds (person, work, place, organisation) of an entity's types."""
        if profile is None:
            return set()
        return {kind for t in profile.types for kind in self._kinds_of_type.get(t, ())}
