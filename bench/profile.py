"""Summarize a py-spy collapsed-stack profile (``--format raw``) as top functions.

    python -m bench.profile bench/out/profile/vox_v3-no-change-0.txt [--top 25]

Prints, per function, the share of samples where it is on the stack
(inclusive) and where it is the innermost frame (self), as a markdown table.
Frames of the event loop's own machinery are kept: waiting shows up as
``select``/``_run_once`` self time. With ``--prefix worker`` only the
project's frames are kept, so a function's "self" also counts the library code
it calls (the driver's encoding under ``BulkInsert.run``, say).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def summarize(path: Path, top: int = 25, prefix: str = "") -> str:
    """The markdown table of the ``top`` functions by inclusive share."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_short(frame) for frame in stack.split(";")]
        frames = [f for f in frames if f.startswith(prefix)] if prefix else frames
        for frame in set(frames):
            inclusive[frame] += samples
        if frames:
            own[frames[-1]] += samples
    lines = [
        f"{total} samples; share of samples with the function on the stack, and innermost",
        "",
        "| function | inclusive | self |",
        "| --- | --- | --- |",
    ]
    for frame, samples in inclusive.most_common(top):
        lines.append(f"| `{frame}` | {samples / total:.0%} | {own[frame] / total:.0%} |")
    return "\n".join(lines) + "\n"


def _short(frame: str) -> str:
    """``name (path/to/module.py:12)`` as ``module.name``, from the package root on."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    # py-spy names files relative to their sys.path entry: "worker/x.py", "asyncio/x.py".
    where = where.rsplit("/site-packages/", 1)[-1]
    module = where.removesuffix(".py").replace("/", ".").lstrip(".")
    return f"{module}.{name}" if module else name


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--prefix", default="", help="only frames whose name starts so")
    args = parser.parse_args()
    print(summarize(args.profile, args.top, args.prefix))


if __name__ == "__main__":
    main()
