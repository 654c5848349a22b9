"""Reading a system's options from its config section ``systems.<name>``.

One helper for every system: the section (an OmegaConf node, a dict or None) becomes plain
Python containers, merged over the system's defaults; a key the system does not have is an
error naming the system, the unknown keys and the known ones, so a typo never passes
silently (``run_recipe.py ... systems.centre.sharpnes=2`` fails before any work).
"""

from __future__ import annotations

from typing import Any

from harness.errors import HarnessError


def plain(section: Any) -> Any:
    """An OmegaConf node (or None, or a dict/list) as plain Python containers."""
    if section is None:
        return {}
    from omegaconf import OmegaConf

    if OmegaConf.is_config(section):
        return OmegaConf.to_container(section, resolve=True)
    if isinstance(section, (list, tuple)):
        return list(section)
    return dict(section)


def check_keys(where: str, given: dict, known) -> None:
    """Raise a one-line HarnessError if `given` has keys outside `known`."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise HarnessError(f"{where}: unknown option(s) {unknown}; known: {sorted(known)}")


def read_options(system: str, section: Any, defaults: dict[str, Any]) -> dict[str, Any]:
    """`defaults` updated with the section's values; unknown keys are an error."""
    given = plain(section)
    if not isinstance(given, dict):
        raise HarnessError(f"system {system!r}: its options must be a mapping, not {type(given).__name__}")
    check_keys(f"system {system!r}", given, defaults)
    return {**defaults, **given}
