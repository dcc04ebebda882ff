"""Settings for the whole suite."""
from hypothesis import settings

# The suite runs on every core beside moto servers and local stacks: a property's example may
# wait for the CPU. Deadlines would fail tests for the machine's load, not for the code.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
