"""LDP (placeholder)."""
