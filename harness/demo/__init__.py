"""Deterministic demo datasets in the official Cadenza layouts, so every recipe runs with no download."""
