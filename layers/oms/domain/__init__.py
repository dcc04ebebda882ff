"""Pure business rules: no AWS, no clock, no randomness that cannot be injected."""
