"""The CasRel-style triple extractor: character vocabulary, model, training, evaluation, extraction.

Importing this package is cheap; torch is imported by the modules that need it.
"""
