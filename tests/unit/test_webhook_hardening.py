"""Odd signature headers are refused as bad signatures (401), never a crash (500); a Secrets
Manager outage is a retryable failure (503), not a missing secret (401)."""
import pytest
from botocore.exceptions import ClientError

from oms.adapters import secrets
from oms.adapters.signatures import BadSignature, sign_generic, verify_generic

NOW = 1_764_000_000


@pytest.mark.parametrize("header", [
    "t=²,v1=00", f"t={NOW},v1=é", f"t={'9' * 5000},v1=00", "t=-5,v1=00", f"t={NOW},t={NOW},v1=00",
    f"t={NOW}", "v1=00", "", "garbage", f"t= {NOW} ,v1=\x00",
])
def test_malformed_generic_headers_are_bad_signatures(header):
    with pytest.raises(BadSignature):
        verify_generic("secret", b"{}", header, NOW)


def test_a_good_generic_signature_still_verifies():
    verify_generic("secret", b"{}", sign_generic("secret", b"{}", NOW), NOW + 10)


def _failing_get_secret(code: str):
    def get_secret(secret_id, max_age):
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

        try:
            raise ClientError({"Error": {"Code": code, "Message": "..."}}, "GetSecretValue")
        except ClientError as error:
            raise GetParameterError(str(error))  # noqa: B904  (as Powertools raises it: the error is its context)
    return get_secret


def test_a_secret_that_does_not_exist_is_missing(monkeypatch):
    from aws_lambda_powertools.utilities import parameters

    monkeypatch.setattr(parameters, "get_secret", _failing_get_secret("ResourceNotFoundException"))
    with pytest.raises(secrets.MissingSecret):
        secrets._from_secrets_manager("oms/test/webhooks/orders/shopify")


@pytest.mark.parametrize("code", ["ThrottlingException", "InternalServiceError"])
def test_secrets_manager_failing_is_unavailable_not_missing(monkeypatch, code):
    from aws_lambda_powertools.utilities import parameters

    monkeypatch.setattr(parameters, "get_secret", _failing_get_secret(code))
    with pytest.raises(secrets.SecretsUnavailable):
        secrets._from_secrets_manager("oms/test/webhooks/orders/shopify")
