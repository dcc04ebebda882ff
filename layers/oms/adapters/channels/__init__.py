"""Channel formats mapped to the canonical order."""
