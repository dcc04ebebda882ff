"""Signed-in customers: the storefront's JWT says who they are. HS256 with the shared secret
(OMS_CUSTOMER_TOKEN_SECRET locally, Secrets Manager oms/<stage>/customers/token-secret in AWS),
or RS256 with a key from the storefront's JWKS (OMS_CUSTOMER_JWKS_URL: SFCC SLAS, Shopify
customer accounts). PyJWT checks signatures and times; each algorithm only with its own kind of
key, so a token cannot pick its verifier (no "none", no HS256 signed with a public key)."""
from __future__ import annotations

import os
import time
from functools import lru_cache

import jwt

from .secrets import MissingSecret, customer_token_secret

LEEWAY_SECONDS = 30  # clocks of the storefront and Lambda may differ a little


class InvalidCustomerToken(Exception):
    """Missing, malformed, expired, forged or not for us: the caller answers one 401 for all."""


class TokenKeysUnavailable(Exception):
    """The storefront's JWKS could not be fetched: retryable, not the customer's fault."""


REFETCH_SECONDS = 60  # an unknown key id fetches the JWKS again at most this often


class _Keys:
    """The storefront's published keys, fetched once and kept 5 minutes; a token naming a key id
    we do not have fetches them again at most once a minute, so made-up key ids cannot make
    every request call the storefront."""

    def __init__(self, url: str):
        self.client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5)
        self.refreshed_at = float("-inf")

    def key_for(self, token: str):
        kid = jwt.get_unverified_header(token).get("kid")
        found = self._find(self.client.get_signing_keys(), kid)
        if found is None and time.monotonic() - self.refreshed_at > REFETCH_SECONDS:
            self.refreshed_at = time.monotonic()
            found = self._find(self.client.get_signing_keys(refresh=True), kid)
        if found is None:
            raise jwt.InvalidTokenError("no published key has that key id")
        return found.key

    @staticmethod
    def _find(keys, kid):
        return next((key for key in keys if key.key_id == kid), None)


@lru_cache(maxsize=4)
def _jwks(url: str) -> _Keys:
    return _Keys(url)


def customer_email(token: str | None) -> str:
    """The e-mail of the customer the token was issued to (lower-cased)."""
    if not token:
        raise InvalidCustomerToken("no token")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
        key = _key_for(algorithm, token)
        claims = jwt.decode(token, key, algorithms=[algorithm], leeway=LEEWAY_SECONDS,
                            audience=os.environ.get("OMS_CUSTOMER_TOKEN_AUDIENCE") or None,
                            issuer=os.environ.get("OMS_CUSTOMER_TOKEN_ISSUER") or None,
                            options={"require": ["exp", "email"],
                                     "verify_aud": bool(os.environ.get("OMS_CUSTOMER_TOKEN_AUDIENCE"))})
    except jwt.PyJWKClientConnectionError as error:
        raise TokenKeysUnavailable(str(error)) from None
    except (jwt.PyJWTError, MissingSecret) as error:
        raise InvalidCustomerToken(type(error).__name__) from None
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 320:
        raise InvalidCustomerToken("no usable email claim")
    return email.strip().lower()


def _key_for(algorithm: str | None, token: str):
    if algorithm == "HS256":
        return customer_token_secret()
    url = os.environ.get("OMS_CUSTOMER_JWKS_URL")
    if algorithm == "RS256" and url:
        return _jwks(url).key_for(token)
    raise jwt.InvalidAlgorithmError(f"{algorithm} is not accepted")
