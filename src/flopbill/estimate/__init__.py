"""Pure estimators: no I/O, no clock, no printing, no randomness; numpy-broadcastable where noted."""
