"""Adapters: DynamoDB, the event bus, channels, carriers, payment processors, secrets."""
