"""Every case of the offline analyst's quality suite, answered through the chat service:
the offline DSPy engine, the sandbox and the summaries, as a user's question is.

Each case's check recomputes the truth independently (see ``bench/quality.py``); the
offline analyst must get every case it claims right.
"""

from __future__ import annotations

import pytest

from bench import quality

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("case", quality.CASES, ids=[f"{c.dataset}: {c.question}" for c in quality.CASES])
def test_quality_case(case: quality.Case) -> None:
    answers = quality.answer_via_chat(case)
    case.check(answers, quality.frame(case.dataset))


def test_suite_covers_every_intent_on_several_datasets():
    intents = [quality.intent_of(case) for case in quality.CASES]
    assert len(quality.CASES) >= 45
    assert len({case.dataset for case in quality.CASES}) >= 3
    assert sum(1 for case in quality.CASES if case.history) >= 4
    counts = {intent: intents.count(intent) for intent in set(intents)}
    counts["clean"] = counts.get("clean", 0) + counts.pop("missing", 0)  # one intent: missing values and cleaning
    for intent in ("overview", "clean", "distribution", "relationship", "correlation", "groups", "trend"):
        assert counts.get(intent, 0) >= 3, intent
    for intent in ("regression", "model", "cluster"):
        assert counts.get(intent, 0) >= 3, intent
