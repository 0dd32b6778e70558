"""Golden-case runners: flopbill against published figures."""
