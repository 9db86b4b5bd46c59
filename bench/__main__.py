"""Run every benchmark module (``bench/*_bench.py``) in turn; each prints its own table.

``python -m bench`` runs all of them, ``python -m bench ext service`` a selection.
Each module exposes ``main() -> int``; the exit status is non-zero if any failed.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.endswith("_bench"))
    if argv:
        names = [n for n in names if n.removesuffix("_bench") in argv]
    status = 0
    for name in names:
        print(f"\n== {name.removesuffix('_bench')} ==", flush=True)
        status |= importlib.import_module(f"bench.{name}").main() or 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
