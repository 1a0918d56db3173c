"""An import-linter contract type of this project's own: no private imports of an external package.

import-linter's `forbidden` contract cannot name a subpackage of an external package (`dagster._core`): it
sees `dagster` as one module. The import graph it builds keeps each import's line, though, so this contract
reads those lines: `from dagster._core.events import …`, `import dagster._daemon.sensor` and
`from dagster import _check` are private imports of `dagster`.

    [[tool.importlinter.contracts]]
    type = "no_private_imports"
    external = "dagster"
    packages = ["orchestration", "sensors"]
    exempt = ["orchestration.platform"]
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
    return bool(re.match(rf"\s*(from|import)\s+{name}\._", line)
                or re.match(rf"\s*from\s+{name}\s+import\s+(\(\s*)?(\w+(\s+as\s+\w+)?\s*,\s*)*_", line))


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
            if private_import(detail["line_contents"], external))
        return ContractCheck(kept=not found, metadata={"found": found})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, line_number, line in check.metadata["found"]:
            output.print_error(f"{importer}:{line_number}: {line}", bold=False)
        output.new_line()
        output.print(f"Only {', '.join(sorted(m.name for m in self.exempt or ()))} may use {self.external}'s "  # type: ignore[attr-defined]
                     "internals: use its public API, or move the piece there with a note (why, the public "
                     "API that would replace it, the upstream issue).")
