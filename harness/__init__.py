"""The common Cadenza harness: config, data, hearing-aid chain, audio I/O, runner, leaderboard."""
