"""Graph helpers shared by the dependency and layering checks."""

from __future__ import annotations


def strongly_connected_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Cycles of a directed graph: Tarjan's components with more than one node, or a
    self-loop; iterative, so deep graphs do not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(graph.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, []))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = _pop_component(stack, on_stack, node)
                if len(component) > 1 or node in graph.get(node, []):
                    cycles.append(sorted(component))
    return sorted(cycles)


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


def cycle_path(graph: dict[str, list[str]], members: list[str]) -> list[str]:
    """One concrete cycle through a strongly connected component, as a closed path."""
    allowed = set(members)
    start = members[0]
    parents: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in graph.get(node, []):
            if child == start:
                path = [node]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])
                return [*reversed(path), start]
            if child in allowed and child not in parents:
                parents[child] = node
                queue.append(child)
    return [*members, members[0]]
