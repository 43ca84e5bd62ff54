"""A measurement over many photos on both cores. The suite runs one test at a time, and most of
such a measurement (dlib's HOG, one photo after another) runs on one thread: cut into one part a
core, each part in a process of its own, it takes about half the time on the 2-core machine.
The same photos are measured the same way."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

Result = TypeVar("Result")


def part_count(items: Sequence) -> int:
    return max(1, min(os.cpu_count() or 1, len(items)))


def in_parts(function: Callable[[list], Result], items: Sequence) -> list[Result]:
    """[function(part) for each part of `items`], one part a core (part k: every n-th item from
    the k-th, parts of about equal work), each in a spawned process (none of this process's
    threads or state). `function` is a module's top-level function, found by its name there."""
    count = part_count(items)
    parts = [list(items[start::count]) for start in range(count)]
    with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(function, parts))


def each_in_parts(function: Callable[[list], list], items: Sequence) -> list:
    """`function` gives one result an item of its part: every item's result, in the order of `items`."""
    count = part_count(items)
    results: list = [None] * len(items)
    for start, part in enumerate(in_parts(function, items)):
        results[start::count] = part
    return results
