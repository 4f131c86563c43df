"""The store's long operations, as plain async functions that call small actions."""
