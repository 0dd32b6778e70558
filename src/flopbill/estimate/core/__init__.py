"""Shared by every estimator: transformer arithmetic, the roofline, array plumbing, assumptions, ranges."""
