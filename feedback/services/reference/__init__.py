"""Reference data: loading packs, the per-process cache, SLA policies, settings and the
calendar admin."""
