"""Serving: per-step physics, request metrics, queueing, one deployment, capacity, search, disaggregation."""
