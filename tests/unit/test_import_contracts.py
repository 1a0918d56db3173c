"""The project's own import-linter contract types (tests/contracts.py) find what they are for."""

from __future__ import annotations

import grimp

from tests.contracts import import_cycles


def _graph(imports: list[tuple[str, str]]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_module(importer)
        graph.add_module(imported)
        graph.add_import(importer=importer, imported=imported)
    return graph


def test_a_cycle_through_several_modules_is_one_group_and_a_chain_is_none():
    graph = _graph(
        [
            ("p.media", "p.hls"),
            ("p.hls", "p.keys"),
            ("p.keys", "p.media"),
            ("p.api", "p.media"),
            ("p.db", "p.text"),
            ("p.chapters", "p.db"),
            ("p.chapters", "p.text"),
        ]
    )
    assert import_cycles(graph, set(graph.modules)) == [["p.hls", "p.keys", "p.media"]]


def test_two_separate_cycles_are_both_reported_and_modules_outside_are_not_followed():
    graph = _graph([("p.a", "p.b"), ("p.b", "p.a"), ("p.c", "p.d"), ("p.d", "p.c"), ("p.e", "x.f"), ("x.f", "p.e")])
    assert import_cycles(graph, {m for m in graph.modules if m.startswith("p.")}) == [["p.a", "p.b"], ["p.c", "p.d"]]
