"""Aggregated reads of the run history: the pipelines' KPIs and the totals that metrics
export."""
