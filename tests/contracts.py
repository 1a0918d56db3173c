"""import-linter contract types of this project's own.

`no_private_imports`: no private imports of an external package. import-linter's `forbidden` contract cannot
name a subpackage of an external package (`dagster._core`): it sees `dagster` as one module. The import graph
it builds keeps each import's line, though, so this contract reads those lines: `from dagster._core.events
import …`, `import dagster._daemon.sensor` and `from dagster import _check` are private imports of `dagster`.

    [[tool.importlinter.contracts]]
    type = "no_private_imports"
    external = "dagster"
    packages = ["orchestration", "sensors"]
    exempt = ["orchestration.platform"]

`no_import_cycles`: no module imports itself through others, counting imports inside functions (which only
hide a cycle until the day they run first). import-linter's `acyclic_siblings` treats each subpackage as one
unit, so it also reports package-level loops that are no module's cycle.

    [[tool.importlinter.contracts]]
    type = "no_import_cycles"
    packages = ["pipeline", "serving_api"]
"""

from __future__ import annotations

import re

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def private_import(line: str, package: str) -> bool:
    """Whether a source line imports a private module or name of `package`."""
    name = re.escape(package)
    return bool(
        re.match(rf"\s*(from|import)\s+{name}\._", line)
        or re.match(rf"\s*from\s+{name}\s+import\s+(\(\s*)?(\w+(\s+as\s+\w+)?\s*,\s*)*_", line)
    )


class NoPrivateImportsContract(Contract):
    type_name = "no_private_imports"

    external = fields.StringField()
    packages = fields.SetField(subfield=fields.ModuleField())
    exempt = fields.SetField(subfield=fields.ModuleField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        external = str(self.external)
        packages = {m.name for m in self.packages}  # type: ignore[attr-defined]
        exempt = {m.name for m in self.exempt or ()}  # type: ignore[attr-defined]

        def within(module: str, roots: set[str]) -> bool:
            return any(module == root or module.startswith(root + ".") for root in roots)

        found = sorted(
            (importer, detail["line_number"], detail["line_contents"].strip())
            for importer in graph.find_modules_that_directly_import(external)
            if within(importer, packages) and not within(importer, exempt)
            for detail in graph.get_import_details(importer=importer, imported=external)
            if private_import(detail["line_contents"], external)
        )
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, line_number, line in check.metadata["found"]:
            output.print_error(f"{importer}:{line_number}: {line}", bold=False)
        output.new_line()
        output.print(
            f"Only {', '.join(sorted(m.name for m in self.exempt or ()))} may use {self.external}'s "  # type: ignore[attr-defined]
            "internals: use its public API, or move the piece there with a note (why, the public "
            "API that would replace it, the upstream issue)."
        )


def import_cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The strongly connected groups of two or more `modules` (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == module:
                            break
                    if len(group) > 1:
                        cycles.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
            elif child in on_stack:
                low[module] = min(low[module], index[child])
    return sorted(cycles)


class NoImportCyclesContract(Contract):
    type_name = "no_import_cycles"

    packages = fields.SetField(subfield=fields.ModuleField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots = {m.name for m in self.packages}  # type: ignore[attr-defined]
        modules = {m for m in graph.modules if any(m == r or m.startswith(r + ".") for r in roots)}
        cycles = import_cycles(graph, modules)
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error("These modules import each other: " + ", ".join(cycle), bold=False)
        output.new_line()
        output.print("Move what both need into one of them, or into a module both import.")
