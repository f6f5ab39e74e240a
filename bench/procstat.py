"""Process CPU accounting shared by the benchmarks (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(root: int) -> float:
    """CPU time (user + system) so far of process `root` and all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(pid)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)

    def under_root(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = stats.get(pid, (0, 0.0))[0]
        return False

    return sum(cpu for pid, (_, cpu) in stats.items() if under_root(pid))
