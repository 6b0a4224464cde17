"""Answering: entity linking, graph query templates and the ask pipeline."""
