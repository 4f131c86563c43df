"""Layer 4: tree functions, patches and snapshots on trees, actions, flows, middleware."""
