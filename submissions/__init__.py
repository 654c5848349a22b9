"""Packaging and validation of what a team hands in."""
