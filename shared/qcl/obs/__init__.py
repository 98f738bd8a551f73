"""Observability: structured logs (and, as the API lands, metrics)."""
