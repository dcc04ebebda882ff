"""The vendors' webhook signatures: EasyPost's own test vector, and Shopify's and AfterShip's
base64 HMACs, each accepted when right and refused with a reason when not."""
import base64
import hashlib
import hmac
import json
import unicodedata

import pytest

from oms.adapters.signatures import (
    BadSignature,
    sign_aftership,
    sign_easypost,
    sign_shopify,
    verify_aftership,
    verify_easypost,
    verify_shopify,
)
from tests.support.fixtures import fixture, fixture_bytes

VECTOR = fixture("easypost/webhook-signature-vector.json")
# EasyPost signed the event without the newline the saved file ends with.
EASYPOST_BODY = fixture_bytes("easypost/tracker-updated-fedex.json").removesuffix(b"\n")
BODY = b'{"id": 820982911946154508, "note": "caf\xc3\xa9"}'


def refused(verify, secret: str, body: bytes, header: str | None) -> str:
    with pytest.raises(BadSignature) as error:
        verify(secret, body, header)
    return str(error.value)


# ---- EasyPost --------------------------------------------------------------------------------

def test_easyposts_own_vector_verifies():
    assert VECTOR["secret"] == "s\u00e9cret"
    verify_easypost(VECTOR["secret"], EASYPOST_BODY, VECTOR["hmac_signature"])
    assert sign_easypost(VECTOR["secret"], EASYPOST_BODY) == VECTOR["hmac_signature"]


def test_the_saved_file_with_its_newline_is_not_what_easypost_signed():
    assert "does not match" in refused(verify_easypost, VECTOR["secret"], EASYPOST_BODY + b"\n",
                                       VECTOR["hmac_signature"])


def test_easypost_secret_is_nfkd_normalised():
    decomposed = unicodedata.normalize("NFKD", VECTOR["secret"])
    assert decomposed != VECTOR["secret"]
    # The same secret typed with a combining accent is the same key.
    verify_easypost(decomposed, EASYPOST_BODY, VECTOR["hmac_signature"])
    # A sender that keyed with the secret's raw (NFC) bytes did not follow EasyPost's scheme.
    raw_keyed = hmac.new(VECTOR["secret"].encode(), EASYPOST_BODY, hashlib.sha256).hexdigest()
    assert "does not match" in refused(verify_easypost, VECTOR["secret"], EASYPOST_BODY,
                                       f"hmac-sha256-hex={raw_keyed}")


def test_easypost_tampered_body_is_refused():
    tampered = EASYPOST_BODY.replace(b'"status":"in_transit"', b'"status":"delivered"', 1)
    assert tampered != EASYPOST_BODY
    assert "does not match" in refused(verify_easypost, VECTOR["secret"], tampered, VECTOR["hmac_signature"])


def test_easypost_wrong_secret_is_refused():
    assert "does not match" in refused(verify_easypost, "secret", EASYPOST_BODY, VECTOR["hmac_signature"])


@pytest.mark.parametrize("header", [None, "", "   "])
def test_easypost_missing_header_is_refused(header):
    assert "missing X-Hmac-Signature" in refused(verify_easypost, VECTOR["secret"], EASYPOST_BODY, header)


@pytest.mark.parametrize("header", [
    VECTOR["hmac_signature"].split("=", 1)[1],                        # no scheme prefix
    "hmac-sha1-hex=" + VECTOR["hmac_signature"].split("=", 1)[1],      # another scheme
    "hmac-sha256-hex=not-hex",
    "hmac-sha256-hex=" + "ab" * 20,                                    # hex, but not 32 bytes
    "hmac-sha256-hex=",
    "hmac-sha256-hex=\u00e9\u00e9",
])
def test_easypost_malformed_header_is_refused(header):
    assert "malformed X-Hmac-Signature" in refused(verify_easypost, VECTOR["secret"], EASYPOST_BODY, header)


def test_easypost_accepts_upper_case_hex():
    prefix, mac = VECTOR["hmac_signature"].split("=", 1)
    verify_easypost(VECTOR["secret"], EASYPOST_BODY, f"{prefix}={mac.upper()}")


# ---- Shopify and AfterShip (the same scheme under different headers) ------------------------

BASE64_SCHEMES = [
    pytest.param(sign_shopify, verify_shopify, "X-Shopify-Hmac-Sha256", id="shopify"),
    pytest.param(sign_aftership, verify_aftership, "aftership-hmac-sha256", id="aftership"),
]


@pytest.mark.parametrize(("sign", "verify", "name"), BASE64_SCHEMES)
def test_round_trip(sign, verify, name):
    header = sign("shpss_secret", BODY)
    expected = base64.b64encode(hmac.new(b"shpss_secret", BODY, hashlib.sha256).digest()).decode()
    assert header == expected
    verify("shpss_secret", BODY, header)
    verify("shpss_secret", BODY, f" {header}\n")  # header values may arrive with whitespace


@pytest.mark.parametrize(("sign", "verify", "name"), BASE64_SCHEMES)
def test_tampered_body_and_wrong_secret_are_refused(sign, verify, name):
    header = sign("shpss_secret", BODY)
    assert "does not match" in refused(verify, "shpss_secret", BODY.replace(b"caf", b"caF"), header)
    assert "does not match" in refused(verify, "other_secret", BODY, header)
    # The parsed-and-reserialised body is not the raw body that was signed.
    assert "does not match" in refused(verify, "shpss_secret", json.dumps(json.loads(BODY)).encode(), header)


@pytest.mark.parametrize(("sign", "verify", "name"), BASE64_SCHEMES)
@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_refused(sign, verify, name, header):
    assert f"missing {name}" in refused(verify, "shpss_secret", BODY, header)


@pytest.mark.parametrize(("sign", "verify", "name"), BASE64_SCHEMES)
@pytest.mark.parametrize("header", ["not base64!", "c2hvcnQ=", "sha256=abc", "\u00e9", "YWJj"])
def test_malformed_header_is_refused(sign, verify, name, header):
    assert f"malformed {name}" in refused(verify, "shpss_secret", BODY, header)


@pytest.mark.parametrize(("sign", "verify", "name"), BASE64_SCHEMES)
def test_hex_where_base64_is_expected_is_refused(sign, verify, name):
    hex_mac = hmac.new(b"shpss_secret", BODY, hashlib.sha256).hexdigest()
    with pytest.raises(BadSignature):
        verify("shpss_secret", BODY, hex_mac)


@pytest.mark.parametrize(("verify", "header"), [
    (verify_shopify, sign_shopify("", BODY)),
    (verify_aftership, sign_aftership("", BODY)),
    (verify_easypost, sign_easypost("", BODY)),
])
def test_an_empty_secret_verifies_nothing(verify, header):
    assert "no secret" in refused(verify, "", BODY, header)
