"""The architecture follows the data: sources → clean → pipeline → store → search → api/web/exports.

A layer may import the layers before it, never one after it: the pipeline is the algorithm and never
names a database (it is handed a store, store/base.py), the store owns every backend difference, the
search reads the store, and the website, the API and the exports sit on top. And no module imports
itself back through others (no import cycle). Read from the source by grimp, with the imports made only
for type checkers (`if TYPE_CHECKING:`) left aside: they never run.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "annuaire"
# In order; the packages of one layer may import each other (sources reads its files with clean's
# pure functions, clean and geocoding share the address rules).
LAYERS = (
    ("sources", "clean", "geocoding"),
    ("pipeline",),
    ("store",),
    ("search",),
    ("api", "web", "exports"),
)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    for rank, packages in enumerate(LAYERS):
        if parts[1] in packages:
            return rank
    return None


def test_no_layer_imports_a_later_one(graph):
    wrong = []
    for module in sorted(graph.modules):
        rank = _layer(module)
        if rank is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = _layer(imported)
            if target is not None and target > rank:
                lines = [
                    d["line_number"] for d in graph.get_import_details(importer=module, imported=imported)
                ]
                wrong.append(f"{module} imports {imported} (line {', '.join(map(str, lines))})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            for j in range(i, len(edges[node])):
                nxt = edges[node][j]
                if nxt not in index:
                    work.append((node, j + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_no_import_cycle(graph):
    cycles = _cycles(graph)
    assert not cycles, "modules importing each other:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [["a.x", "a.y", "a.z"]]
