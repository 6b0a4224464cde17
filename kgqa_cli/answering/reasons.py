"""Why a question has no answer: the machine-readable codes of an answer's ``reason``.

They stay the same whatever language the messages are in, so tools can match on them.
"""

EMPTY = "empty question"
NO_INTENT = "no reading above the threshold"
OUT_OF_SCOPE = "not a question the graph answers"
NO_ENTITY = "no entity found in the question"
NOT_IN_GRAPH = "entity not in the graph"
NO_RELATION = "no such relation"
NO_REFERENT = "nothing earlier to refer to"
PARTIAL = "part of the question not understood"
AMBIGUOUS = "ambiguous"

REASONS = (EMPTY, NO_INTENT, OUT_OF_SCOPE, NO_ENTITY, NOT_IN_GRAPH, NO_RELATION, NO_REFERENT, PARTIAL, AMBIGUOUS)
