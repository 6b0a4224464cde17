"""Corpus data: reading DuIE files, validating records, the schema and the splits."""
