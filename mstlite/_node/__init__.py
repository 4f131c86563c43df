"""Layer 2: trees and live nodes: the one write path, identifiers, patch emission."""
