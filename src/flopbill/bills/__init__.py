"""Bills: import cloud bills (FOCUS, AWS CUR 2.0, GCP export, Azure cost details) into DuckDB, classify
every line into training / fine-tuning / inference / other / unclassified, report and reconcile with a plan.
"""
