"""The vendors' real payloads (tests/fixtures/, see its README), read exactly as saved."""
from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str):
    return json.loads(fixture_bytes(name))
