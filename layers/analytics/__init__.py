"""Analytics: facts on S3, KPIs, lifetime values and forecasts. Never imported by the order path."""
