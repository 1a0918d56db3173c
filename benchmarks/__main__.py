"""Run the benchmarks: every one in turn, or the one named.

    .venv/bin/python -m benchmarks                         # all of them
    .venv/bin/python -m benchmarks ladder_encode           # one
    .venv/bin/python -m benchmarks ladder_encode --rounds 5  # one, with its own options

Each runs in its own process, so one's imports, caches and memory cannot
colour another's numbers; its output is printed as it comes.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path

# Run by name only: tools the benchmarks use, not benchmarks themselves.
TOOLS = frozenset({"load_corpus"})


def available() -> list[str]:
    """Every module of this package that is not private: each is one benchmark or tool."""
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = available()
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\nbenchmarks: " + ", ".join(names))
        return 0
    if argv and argv[0] not in names:
        print(f"no benchmark {argv[0]!r}; there are: {', '.join(names)}", file=sys.stderr)
        return 2
    # Options after a single benchmark's name are that benchmark's own.
    runs = [(argv[0], argv[1:])] if argv else [(name, []) for name in names if name not in TOOLS]

    failed = []
    for name, options in runs:
        print(f"==> {name}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *options], check=False).returncode
        print(f"<== {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.0f} s\n", flush=True)
        if code != 0:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
