"""The separation networks (torch modules and their config dataclasses) and their
checkpoint layout; the systems that use them live one level up in ``baselines/``."""
