"""Running one measured child (``bench.child``) and reading its figures.

A child prints its figures as its last JSON line. With ``ready``, a steady child
(a daemon's cycle, see ``bench.phases.STEADY``) first runs a cycle, prints
``bench.child.READY`` and waits: ``ready`` runs then (the fleet's change, and the
"before" snapshot of every counter), and a line on its stdin lets it go on.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.child import READY

__all__ = ["run_child"]


async def run_child(
    method: str,
    spec: dict[str, Any],
    env: dict[str, str],
    *,
    cap: float | None = None,
    profile: Path | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Run one child and return its figures. With ``ready``, a steady child: once it
    prints ``bench.child.READY``, ``ready`` runs, then the child is told to go on."""
    command = [sys.executable, "-m", "bench.child", method, "--spec", json.dumps(spec)]
    if profile is not None:
        # Collapsed stacks (one line per stack, then its sample count): see bench.profile.
        spy = ["py-spy", "record", "--format", "raw", "--rate", "200", "--nonblocking"]
        command = [*spy, "--output", str(profile), "--", *command]
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE if ready else None,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    head = b""
    if ready is not None:
        assert process.stdin is not None
        assert process.stdout is not None
        while line := await process.stdout.readline():
            if line.strip() == READY.encode():
                break
            head += line  # a line before it (none expected): kept for the parse below
        await ready()
        process.stdin.write(b"go\n")
    try:
        out, err = await asyncio.wait_for(process.communicate(), cap)
        out = head + out
    except TimeoutError:
        process.kill()
        await process.wait()
        return {"over_cap": cap, "wall": cap}
    # The child's figures are its last JSON line (py-spy prints its own lines after it,
    # and exits 0 whatever the child did).
    lines = [li for li in out.decode().splitlines() if li.startswith("{")]
    if process.returncode != 0 or not lines:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        return {"error": f"exit {process.returncode}: " + " | ".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1])
    return result
