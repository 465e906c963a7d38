"""Application metrics and KPIs: a history of runs, rules against it, ingestion, charts."""
