"""The package's shape: no import circle, even at call time, and a README that names every module.

Read from the source with `ast` (nothing is imported): an import inside a function counts like
one at the top, since it runs as soon as the function does; one under `if TYPE_CHECKING:` never
runs and does not count.
"""

from __future__ import annotations

import ast
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = REPO / "daemon" / "photorank"
STAGE_FOLDERS = ("", "faces", "signals")  # v1/ holds generated stubs


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, pathlib.Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def runtime_imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: at the top or in a function, not under TYPE_CHECKING."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [node]
    if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
        return [found for child in node.orelse for found in runtime_imports(child)]
    return [found for child in ast.iter_child_nodes(node) for found in runtime_imports(child)]


def imported(name: str, path: pathlib.Path, node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The package's modules an import statement of module `name` loads."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    if base not in known:
        return set()
    # `from . import scoring` loads the module scoring; `from .records import Box` loads records.
    submodules = {f"{base}.{alias.name}" for alias in node.names} & known
    return submodules or {base}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = set().union(*(imported(name, path, node, set(known)) for node in runtime_imports(tree))) - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle through each module that can reach itself (depth-first search)."""
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            found.append(trail[trail.index(module):] + [module])
            return
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, trail + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return found


def test_the_import_graph_has_no_circle_even_at_call_time():
    graph = import_graph()
    assert graph["photorank.library"] >= {"photorank.workers", "photorank.known_faces", "photorank.analysis"}  # the reading works
    assert circles(graph) == []


def test_a_circle_would_be_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def stage_table() -> str:
    readme = (REPO / "README.md").read_text()
    lines = readme[readme.index("## How it works"):].splitlines()
    start = next(number for number, line in enumerate(lines) if line.startswith("|"))
    end = next((number for number in range(start, len(lines)) if not lines[number].startswith("|")), len(lines))
    return "\n".join(lines[start:end])


def test_the_readme_stage_table_names_each_module_once():
    table = stage_table()
    named = re.findall(r"`([\w/]+\.py)`", table)
    files = sorted(path.name for folder in STAGE_FOLDERS for path in (PACKAGE / folder).glob("*.py") if path.name != "__init__.py")
    twice = sorted({name for name in named if named.count(name) > 1})
    assert (twice, sorted(set(files) - set(named)), sorted(set(named) - set(files))) == ([], [], []), \
        "README's 'How it works' table names each module of daemon/photorank/, faces/ and signals/ once: (twice, missing, gone)"
    for folder in ("faces/", "signals/", "v1/"):
        assert f"`{folder}`" in table
