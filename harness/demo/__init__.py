"""Deterministic demo datasets in the official layouts, so every command runs with no download."""
