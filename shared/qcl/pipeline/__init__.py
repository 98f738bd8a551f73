"""The event pipeline's services: ingest (observations in) and analyzer (analysis out), and the local stack."""
