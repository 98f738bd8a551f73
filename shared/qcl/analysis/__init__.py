"""Network analysis: pure functions from a window of observations to a report with a health score and findings."""
