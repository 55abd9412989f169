"""The public surface, the package's layering, and what importing the library pulls in."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import tiered_agents

PACKAGE = Path(tiered_agents.__file__).parent


def test_public_api_is_pinned() -> None:
    assert sorted(tiered_agents.__all__) == [
        "Budget",
        "BudgetCallback",
        "BudgetExceeded",
        "CascadeFailedError",
        "CostReport",
        "CostTracker",
        "EscalationPolicy",
        "InvalidInputError",
        "Outcome",
        "PlanError",
        "PlanValidationError",
        "Price",
        "SubtaskFailedError",
        "Tier",
        "TieredAgentsError",
        "Usage",
        "calibrate",
        "configure_tracing",
        "create_advisor_agent",
        "create_cascade",
        "create_tiered_graph",
    ]
    exported = {name for name in dir(tiered_agents) if not name.startswith("_")}
    modules = {name for name in exported if name not in tiered_agents.__all__ and
               type(getattr(tiered_agents, name)).__name__ == "module"}
    assert exported - modules == set(tiered_agents.__all__)


def test_package_is_typed() -> None:
    assert files("tiered_agents").joinpath("py.typed").is_file()


def test_every_error_is_a_tiered_agents_error() -> None:
    from tiered_agents import errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        if issubclass(cls, Warning) or name == "BudgetStopped":
            continue
        assert issubclass(cls, errors.TieredAgentsError), name
    assert issubclass(errors.PlanValidationError, ValueError)
    assert issubclass(errors.ServerError, RuntimeError)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The `tiered_agents` modules a source file imports, TYPE_CHECKING blocks and imports
    inside functions included (`from package import module` counts as the module)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module in modules:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                out.add(name if name in modules else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in modules)
    return out


def _module_graph() -> dict[str, set[str]]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {name: _imports(path, set(names)) - {name} for name, path in names.items()}


def test_the_module_graph_is_acyclic_and_the_library_never_imports_the_cli() -> None:
    graph = _module_graph()
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in graph[name]:
            assert state.get(dep) != 1, f"import cycle: {' -> '.join([*path, name, dep])}"
            if dep not in state:
                visit(dep, [*path, name])
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name, [])
    for name, deps in graph.items():
        if not name.startswith("tiered_agents.cli"):
            assert not {d for d in deps if d.startswith("tiered_agents.cli")}, name


def test_only_the_cli_uses_rich_and_matplotlib() -> None:
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            assert not any(n.split(".")[0] in ("rich", "matplotlib") for n in names), path


def test_importing_the_library_loads_neither_the_cli_nor_the_fakes() -> None:
    code = ("import sys, tiered_agents, tiered_agents.verifiers, tiered_agents.drift, "
            "tiered_agents.replay, tiered_agents.local; "
            "print('tiered_agents.testing' in sys.modules, 'tiered_agents.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False False"
