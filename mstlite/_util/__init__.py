"""Layer 0: RFC 6901 pointers, the RFC 6902 core and frozen snapshot containers.

Imports nothing of mstlite but the leaf modules ``errors`` and ``typing``.
"""
