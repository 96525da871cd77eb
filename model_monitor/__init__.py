"""Production monitoring: capture records, baselines, data quality, drift and model quality."""
