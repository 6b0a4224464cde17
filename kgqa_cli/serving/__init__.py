"""Serving the answering pipeline: the SageMaker-style handler, data capture, the HTTP endpoint
and its chat page. Only ``app`` imports an HTTP framework (FastAPI), and only when serving."""
