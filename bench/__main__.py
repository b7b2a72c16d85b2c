"""Run every benchmark and print one table per benchmark: ``make bench``."""

from __future__ import annotations

import sys

from bench import datasets


def main() -> int:
    datasets.main(sys.argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
