"""The static report of a task's experiment folder (`--stage report`): `site.build`; what a
task supplies per item: `media.ItemMedia`."""
