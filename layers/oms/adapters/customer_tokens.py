"""Signed-in customers: the storefront's JWT says who they are. HS256 with the shared secret
(OMS_CUSTOMER_TOKEN_SECRET locally, Secrets Manager oms/<stage>/customers/token-secret in AWS),
or RS256 with a key from the storefront's JWKS (OMS_CUSTOMER_JWKS_URL: SFCC SLAS, Shopify
customer accounts). PyJWT checks signatures and times; each algorithm only with its own kind of
key, so a token cannot pick its verifier (no "none", no HS256 signed with a public key)."""
from __future__ import annotations

import os
from functools import lru_cache

import jwt

from .secrets import MissingSecret, customer_token_secret

LEEWAY_SECONDS = 30  # clocks of the storefront and Lambda may differ a little


class InvalidCustomerToken(Exception):
    """Missing, malformed, expired, forged or not for us: the caller answers one 401 for all."""


class TokenKeysUnavailable(Exception):
    """The storefront's JWKS could not be fetched: retryable, not the customer's fault."""


@lru_cache(maxsize=4)
def _jwks(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


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
        return _jwks(url).get_signing_key_from_jwt(token).key
    raise jwt.InvalidAlgorithmError(f"{algorithm} is not accepted")
