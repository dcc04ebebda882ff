"""Where a postal code is, roughly: the centroid of a US ZIP code, from the `zipcodes` package
(its data ships in the wheel; nothing is downloaded). Other countries have none: sourcing then
goes by priority. Loading the data takes most of a second, so it happens on first use only."""
from __future__ import annotations

import re
from functools import cache

_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")


def centroid(country: str, postal_code: str) -> tuple[float, float] | None:
    if (country or "").strip().upper() != "US":
        return None
    match = _ZIP.match((postal_code or "").strip())
    return _us_zip(match.group(1)) if match else None


@cache
def _us_zip(zip_code: str) -> tuple[float, float] | None:
    import zipcodes

    found = zipcodes.matching(zip_code)
    if not found or not found[0].get("lat") or not found[0].get("long"):
        return None
    return float(found[0]["lat"]), float(found[0]["long"])
