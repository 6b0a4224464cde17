"""kgqa: Chinese knowledge-graph question answering, from raw text to answers."""

__version__ = "0.1.0"
