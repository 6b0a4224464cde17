"""SigV4 signing of the websocket handshake with a Neptune cluster that uses IAM database
authentication (``graph.sigv4``). botocore comes with the AWS extra; only this path needs it."""

from __future__ import annotations

from kgqa_cli.errors import CloudError, ConfigError

INSTALL_HINT = "install the AWS extra: `make install-aws` (pip install -c constraints.txt -e '.[aws]')"


def gremlin_headers(url: str, region: str | None = None) -> dict[str, str]:
    """The SigV4 headers of the websocket handshake with a Neptune cluster that uses IAM
    database authentication (the handshake is an HTTPS GET of /gremlin, signed for neptune-db)."""
    from urllib.parse import urlparse

    try:
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
    except ImportError as exc:
        raise ConfigError("signing with SigV4 needs boto3, which is not installed", hint=INSTALL_HINT) from exc

    session = boto3.session.Session(region_name=region)
    credentials = session.get_credentials()
    if credentials is None:
        raise CloudError(f"{url}: no AWS credentials to sign the connection with",
                         hint="set them as boto3 reads them (AWS_PROFILE, AWS_ACCESS_KEY_ID, an instance role)")
    parsed = urlparse(url)
    request = AWSRequest(method="GET", url=f"https://{parsed.netloc}{parsed.path or '/gremlin'}", data=None)
    request.headers["Host"] = parsed.netloc
    SigV4Auth(credentials.get_frozen_credentials(), "neptune-db", session.region_name or "us-east-1").add_auth(request)
    return {key: value for key, value in request.headers.items()}
