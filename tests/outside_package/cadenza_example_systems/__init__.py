"""An outside system package, as a team would ship one: it depends on the harness's plug-in
API (``harness.systems``, ``harness.options``) only and is found through the entry-point
group ``cadenza_harness.systems`` (see ``../cadenza_example_systems-0.1.dist-info/entry_points.txt``,
which ``pip install`` would write from the package's ``pyproject.toml``)."""
