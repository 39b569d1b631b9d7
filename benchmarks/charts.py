"""Charts of a saved run, without running anything.

From the repository root::

    python benchmarks/charts.py benchmarks/results/latest.json

writes ``benchmarks/results/latest-<chart>.svg`` (``--stem`` to write them elsewhere): the
charts that ``run.py --markdown`` writes next to its tables. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from benchlib import charts
from benchlib.scenarios import Saved


def main(argv: Sequence[str] | None = None) -> int:
    """Write the charts of a ``run.py --json`` file."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("json", type=Path, help="a file written by run.py --json")
    parser.add_argument(
        "--stem",
        type=Path,
        help="write STEM-<chart>.svg (default: the JSON file's path without .json)",
    )
    args = parser.parse_args(argv)
    for path in charts.write(Saved.read(args.json), args.stem or args.json.with_suffix("")):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
