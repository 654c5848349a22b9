"""The layering: recipes -> baselines -> harness -> evaluators, submissions beside recipes.

Every import of every module counts, at module level or inside a function (a function-level
import must not hide a loop)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("evaluators", "harness", "baselines", "submissions", "recipes")
# what each package must never import
FORBIDDEN = {
    "evaluators": {"harness", "baselines", "submissions", "recipes"},
    "harness": {"baselines", "submissions", "recipes"},
    "baselines": {"submissions", "recipes"},
    "submissions": {"baselines", "recipes"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports (a `from package import module` counts the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in known}
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def test_the_graph_is_read():
    graph = import_graph()
    assert "harness.registry" in graph["harness.runner"]
    assert "evaluators.haaqi" in graph["harness.scoring"]


def test_no_package_imports_a_layer_above_it():
    breaches = [f"{m} imports {t}" for m, targets in import_graph().items() for t in sorted(targets)
                if t.split(".")[0] in FORBIDDEN.get(m.split(".")[0], set())]
    assert not breaches, "\n".join(breaches)


def test_no_import_cycles():
    graph = import_graph()
    # a package's __init__ importing its own modules (registration) is not a cycle of concern
    edges = {m: {t for t in ts if not (m in t.rsplit(".", 1)[0] and t.startswith(m + "."))} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)
