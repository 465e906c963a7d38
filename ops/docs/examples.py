"""Sphinx doctest groups of a reStructuredText document: the ``>>>`` blocks, ``doctest``
and ``testcode`` examples of one group share a namespace, after the group's ``testsetup``
(and ``conf.py``'s ``doctest_global_setup``); a ``testoutput`` block is the expected output
of the ``testcode`` before it. Examples marked to be skipped are left out of the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ops.docs.blocks import BlockPlan, example_spec
from ops.docs.parse import Fence

RUNNABLE = ("doctest", "testcode")
ALL_GROUPS = "*"


@dataclass(frozen=True)
class Group:
    name: str
    setup: str
    cleanup: str
    members: tuple[Fence, ...]
    expected: tuple[str | None, ...]  # each member's testoutput, for a testcode

    def spec(self, plans: Sequence[BlockPlan], filename: str) -> dict:
        """The runner's input: each member run as its plan says (doctest or code)."""
        examples = []
        for fence, expected, plan in zip(self.members, self.expected, plans, strict=True):
            example = example_spec(fence, plan.action, filename)
            if expected is not None:
                example["expected"] = expected
            examples.append(example)
        return {"setup": self.setup, "cleanup": self.cleanup, "examples": examples}


def _groups(fence: Fence) -> list[str]:
    return [name.strip() for name in (fence.group or "default").split(",") if name.strip()]


def doctest_groups(
    fences: Sequence[Fence], runnable: set[int], global_setup: str = ""
) -> dict[str, Group]:
    """The groups of a document's examples; ``runnable`` holds the lines of the examples
    that run (not skipped)."""
    setups: dict[str, list[str]] = {}
    cleanups: dict[str, list[str]] = {}
    members: dict[str, list[tuple[Fence, str | None]]] = {}
    for fence in fences:
        for group in _groups(fence):
            if fence.kind == "testsetup":
                setups.setdefault(group, []).append(fence.content)
            elif fence.kind == "testcleanup":
                cleanups.setdefault(group, []).append(fence.content)
            elif fence.kind == "testoutput":
                _attach_output(members.get(group, []), fence)
            elif fence.kind in RUNNABLE and fence.line in runnable:
                members.setdefault(group, []).append((fence, None))
    return {
        name: _group(name, listed, global_setup, setups, cleanups)
        for name, listed in members.items()
    }


def _group(
    name: str,
    listed: list[tuple[Fence, str | None]],
    global_setup: str,
    setups: dict[str, list[str]],
    cleanups: dict[str, list[str]],
) -> Group:
    setup = "\n".join([global_setup, *setups.get(ALL_GROUPS, []), *setups.get(name, [])])
    cleanup = "\n".join([*cleanups.get(name, []), *cleanups.get(ALL_GROUPS, [])])
    return Group(
        name,
        setup if setup.strip() else "",
        cleanup if cleanup.strip() else "",
        tuple(fence for fence, _ in listed),
        tuple(expected for _, expected in listed),
    )


def _attach_output(listed: list[tuple[Fence, str | None]], output: Fence) -> None:
    """A testoutput belongs to the last testcode of its group before it."""
    for index in range(len(listed) - 1, -1, -1):
        fence, expected = listed[index]
        if fence.kind == "testcode" and fence.line < output.line:
            if expected is None:
                listed[index] = (fence, output.content)
            return
