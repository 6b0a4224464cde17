"""The code that runs inside AWS: the training container's entry point (``container.py``), the
Processing jobs' (``processing.py``) and the public API's Lambda handler (``lambda_api.py``).
They sit above ``kgqa_cli.aws``: each calls the stages and the AWS helpers both."""
