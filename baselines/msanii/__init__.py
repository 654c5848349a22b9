"""Msanii (Maina 2023, seed 004) as a post-processor: transforms, U-Net and vocoder, diffusion,
training, and the registered system ``msanii`` (``baselines.msanii.system``)."""

from baselines.msanii import system  # noqa: F401  (registers "msanii")
