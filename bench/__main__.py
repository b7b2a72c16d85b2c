"""Run every benchmark and print one table per benchmark: ``make bench``."""

from __future__ import annotations

import sys

from bench import analytics, analytics_fanout, chat, datasets, deep_analysis, quality, sandbox

SUITES = {
    "datasets": datasets.main,
    "sandbox": sandbox.main,
    "chat": chat.main,
    "quality": quality.main,
    "deep_analysis": deep_analysis.main,
    "analytics": analytics.main,
    "analytics_fanout": analytics_fanout.main,
}


def main() -> int:
    """``python -m bench`` runs every suite; ``python -m bench sandbox`` only that one."""
    chosen = sys.argv[1:] or list(SUITES)
    for name in chosen:
        SUITES[name]([])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
