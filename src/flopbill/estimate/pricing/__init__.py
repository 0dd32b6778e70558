"""Money: API prices per request, self-hosted fleets billed as clouds bill them, product economics."""
