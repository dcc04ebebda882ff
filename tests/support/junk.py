"""Junk for the mappers' never-crash properties: arbitrary JSON-ish values, and a vendor
sample with one field, anywhere in its tree, replaced."""
from __future__ import annotations

import copy

from hypothesis import strategies as st


def json_values(awkward: list) -> st.SearchStrategy:
    """Any JSON-shaped value, with the vendor's own awkward leaves (status names, odd times,
    odd amounts) mixed in so the mappers see near misses, not only noise."""
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.decimals() | st.text(max_size=12) \
        | st.sampled_from(awkward)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def paths(value, prefix=()):
    """Every path into a JSON value, the root included."""
    yield prefix
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in children:
        yield from paths(child, (*prefix, key))


def replaced(value, path, new):
    """A copy of `value` with the thing at `path` replaced by `new`."""
    if not path:
        return new
    value = copy.deepcopy(value)
    target = value
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return value
