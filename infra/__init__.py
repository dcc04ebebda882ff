"""Build, packaging checks and the local stack."""
