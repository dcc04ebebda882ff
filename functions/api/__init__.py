"""HTTP blueprints registered by app.py."""
