"""The OMS library shipped as the Lambda layer: domain, services and adapters."""
