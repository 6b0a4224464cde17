"""The AWS path: the workspace on S3, SageMaker jobs, registry, endpoint and pipelines, Neptune, triggers.

Only ``config`` is imported off the AWS path (the settings validate the ``aws`` section); the
modules that import boto3 are imported by the commands that go to AWS, so that `kgqa --help`
and the local pipeline never load it.
"""
