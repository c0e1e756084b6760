"""What ``/proc`` says about the benchmarks' processes: parents and CPU time."""

from __future__ import annotations

import os


def process_table() -> dict[int, tuple[int, float]]:
    """Every live process: pid -> (parent pid, CPU seconds used so far, user + system)."""
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return table


def children(pid: int) -> list[int]:
    """The process's direct children (a gunicorn master's workers)."""
    return sorted(child for child, (parent, _) in process_table().items() if parent == pid)


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by a process and every live descendant."""
    table = process_table()
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += table.get(pid, (0, 0.0))[1]
        todo.extend(child for child, (parent, _) in table.items() if parent == pid)
    return total
