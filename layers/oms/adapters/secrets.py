"""Secrets: from the environment in local mode, from Secrets Manager (through Powertools
Parameters, cached) in AWS. `OMS_SECRETS=env` selects local mode."""
from __future__ import annotations

import os


class MissingSecret(LookupError):
    """No secret is configured under that name."""


class SecretsUnavailable(Exception):
    """Secrets Manager did not answer (throttling, network): retryable, not the caller's fault."""


def _from_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSecret(name)
    return value


def _from_secrets_manager(secret_id: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    try:
        return parameters.get_secret(secret_id, max_age=300)
    except parameters.exceptions.GetParameterError as error:
        # Powertools wraps every failure; only "no such secret" means it is not configured.
        original = error.__context__
        code = getattr(original, "response", {}).get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            raise MissingSecret(secret_id) from error
        raise SecretsUnavailable(secret_id) from error


def _local() -> bool:
    return os.environ.get("OMS_SECRETS", "secretsmanager") == "env"


def webhook_secret(kind: str, source: str) -> str:
    if _local():
        return _from_env(f"OMS_WEBHOOK_SECRET_{kind.upper()}_{source.upper()}")
    return _from_secrets_manager(f"oms/{os.environ['OMS_STAGE']}/webhooks/{kind}/{source}")


def ops_token() -> str:
    if _local():
        return _from_env("OMS_OPS_TOKEN")
    return _from_secrets_manager(f"oms/{os.environ['OMS_STAGE']}/ops-token")


def channel_token(channel: str) -> str:
    """The API token the OMS uses to call a sales channel (Shopify Admin API access token,
    SFCC bearer token)."""
    if _local():
        return _from_env(f"OMS_CHANNEL_TOKEN_{channel.upper()}")
    return _from_secrets_manager(f"oms/{os.environ['OMS_STAGE']}/channels/{channel}/token")


def payment_processor_key(processor: str) -> str:
    """The secret API key the OMS calls a payment processor with (Stripe: sk_live_... / sk_test_...)."""
    if _local():
        return _from_env(f"OMS_{processor.upper()}_API_KEY")
    return _from_secrets_manager(f"oms/{os.environ['OMS_STAGE']}/payments/{processor}/api-key")


def carrier_key(carrier: str) -> str:
    """The API key the OMS buys labels with (EasyPost: EZAK... production, EZTK... test)."""
    if _local():
        return _from_env(f"OMS_{carrier.upper()}_API_KEY")
    return _from_secrets_manager(f"oms/{os.environ['OMS_STAGE']}/carriers/{carrier}/api-key")


def customer_token_secret() -> str:
    """The key storefronts sign customers' HS256 tokens with."""
    if _local():
        return _from_env("OMS_CUSTOMER_TOKEN_SECRET")
    return _from_secrets_manager(f"oms/{os.environ['OMS_STAGE']}/customers/token-secret")


def analytics_customer_key() -> str:
    """The key customers' e-mail addresses are digested with before analytics sees them: without
    it, a digest could be reversed by hashing a list of addresses."""
    if _local():
        return _from_env("OMS_ANALYTICS_CUSTOMER_KEY")
    return _from_secrets_manager(f"oms/{os.environ['OMS_STAGE']}/analytics/customer-key")
