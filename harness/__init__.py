"""The common Cadenza harness: config, data, hearing-aid chain, audio I/O, runner, leaderboard."""

from harness.numerics import pin_cpu_numerics

pin_cpu_numerics()  # before anything imports torch (see harness/numerics.py)
