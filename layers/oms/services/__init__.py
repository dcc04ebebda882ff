"""Use cases: load through ports, ask the domain, commit state and events together."""
