"""Customers' tokens: what proves a customer, and everything that must not."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from oms.adapters.customer_tokens import InvalidCustomerToken, TokenKeysUnavailable, customer_email

SECRET = "storefront-secret-of-at-least-32-bytes"


@pytest.fixture(autouse=True)
def settings(monkeypatch):
    monkeypatch.setenv("OMS_SECRETS", "env")
    monkeypatch.setenv("OMS_CUSTOMER_TOKEN_SECRET", SECRET)
    for name in ("OMS_CUSTOMER_JWKS_URL", "OMS_CUSTOMER_TOKEN_ISSUER", "OMS_CUSTOMER_TOKEN_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)


def token(key=SECRET, algorithm="HS256", headers=None, **claims) -> str:
    body = {"email": "Ada@Example.com", "exp": int(time.time()) + 600, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm, headers=headers)


def test_a_valid_token_names_its_customer_in_lower_case():
    assert customer_email(token()) == "ada@example.com"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("bad", [
    None, "", "not-a-jwt", token(exp=int(time.time()) - 3600), token(key="another-secret-of-at-least-32-bytes"),
    token(email=None), token(exp=None), token(email="not-an-address"),
    _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({"email": "ada@example.com", "exp": 9999999999}) + ".",
    token()[:-3] + "abc",
])
def test_missing_expired_forged_unsigned_or_incomplete_tokens_prove_nobody(bad):
    with pytest.raises(InvalidCustomerToken):
        customer_email(bad)


def test_issuer_and_audience_are_checked_when_configured(monkeypatch):
    monkeypatch.setenv("OMS_CUSTOMER_TOKEN_ISSUER", "https://shop.example")
    monkeypatch.setenv("OMS_CUSTOMER_TOKEN_AUDIENCE", "oms")
    assert customer_email(token(iss="https://shop.example", aud="oms")) == "ada@example.com"
    for wrong in (token(iss="https://evil.example", aud="oms"), token(iss="https://shop.example", aud="other"),
                  token(aud="oms")):
        with pytest.raises(InvalidCustomerToken):
            customer_email(wrong)


class _Jwks(BaseHTTPRequestHandler):
    keys: dict = {}
    fetched = 0

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).fetched += 1
        body = json.dumps(self.keys).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def jwks(monkeypatch):
    """A storefront's JWKS endpoint on this machine, publishing one RSA key (kid "k1")."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    _Jwks.keys = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OMS_CUSTOMER_JWKS_URL", f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json")
    yield private
    server.shutdown()


def test_rs256_tokens_are_checked_with_the_storefronts_published_key(jwks):
    assert customer_email(token(jwks, "RS256", headers={"kid": "k1"})) == "ada@example.com"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (token(stranger, "RS256", headers={"kid": "k1"}), token(jwks, "RS256", headers={"kid": "k9"})):
        with pytest.raises(InvalidCustomerToken):
            customer_email(bad)


def test_made_up_key_ids_cannot_make_every_request_fetch_the_keys(jwks):
    _Jwks.fetched = 0
    assert customer_email(token(jwks, "RS256", headers={"kid": "k1"})) == "ada@example.com"
    for n in range(5):
        with pytest.raises(InvalidCustomerToken):
            customer_email(token(jwks, "RS256", headers={"kid": f"made-up-{n}"}))
    assert _Jwks.fetched == 2  # the first fetch, and one refetch for an unknown id within the minute


def test_a_token_cannot_choose_hs256_with_the_public_key_as_its_secret(jwks):
    """The algorithm-confusion attack: HMAC-sign with the storefront's public key, which anyone has."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import serialization

    pem = jwks.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header, claims = {"alg": "HS256", "typ": "JWT", "kid": "k1"}, {"email": "ada@example.com", "exp": 9999999999}
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    signature = base64.urlsafe_b64encode(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidCustomerToken):
        customer_email(f"{signing_input}.{signature.rstrip(b'=').decode()}")


def test_rs256_without_a_jwks_url_is_refused():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidCustomerToken):
        customer_email(token(private, "RS256"))


def test_an_unreachable_jwks_is_not_the_customers_fault(monkeypatch):
    monkeypatch.setenv("OMS_CUSTOMER_JWKS_URL", "http://127.0.0.1:9/jwks.json")
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenKeysUnavailable):
        customer_email(token(private, "RS256", headers={"kid": "k1"}))
