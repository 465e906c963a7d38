"""Resource monitoring: a psutil sampler, alert rules, JSON-lines series and a dashboard."""
