"""Scenarios: a product's traffic over months, the options that could serve it, and what each costs."""
