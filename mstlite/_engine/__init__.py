"""Layer 1: the per-thread runtime, transactions with savepoints, and reactivity."""
