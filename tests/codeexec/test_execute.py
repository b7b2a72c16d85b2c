"""/code/execute, /code/clean-code and /code/get-latest-code against the real sandbox."""

from __future__ import annotations

import json

import pytest

from codeexec.blocks import clean_code, split_blocks
from codeexec.models import CodeExecution
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db(transaction=True)


def execute(client, session_id, code, **body):
    return client.post("/code/execute", {"code": code, **body}, format="json", HTTP_X_SESSION_ID=session_id)


def test_print_shape_of_the_default_dataset(client, session_id):
    response = execute(client, session_id, "print(df.shape)")
    assert response.status_code == 200
    body = response.json()
    assert body["output"] == "\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\n(1704, 8)\n\n"
    assert body["is_successful"] is True
    assert body["failed_agents"] is None
    assert (body["plotly_outputs"], body["matplotlib_outputs"]) == ([], [])


def test_agent_blocks_get_their_own_sections(client, session_id):
    code = (
        "# preprocessing_agent code start\n"
        "n = len(df)\nprint(n)\n"
        "# preprocessing_agent code end\n"
        "# data_viz_agent code start\n"
        "print(n * 2)\n"
        "# data_viz_agent code end\n"
    )
    body = execute(client, session_id, code).json()
    assert body["output"] == (
        "\n\n=== OUTPUT FROM PREPROCESSING_AGENT ===\n1704\n\n\n\n=== OUTPUT FROM DATA_VIZ_AGENT ===\n3408\n\n"
    )


def test_plotly_figures_are_captured_without_fig_variable(client, session_id):
    code = (
        "# data_viz_agent code start\n"
        "px.scatter(df, x='gdpPercap', y='lifeExp').show()\n"
        "chart = go.Figure(go.Bar(x=['a'], y=[1]))\n"
        "html = chart.to_html(full_html=False)\n"
        "print(len(html) > 100)\n"
        "# data_viz_agent code end\n"
    )
    body = execute(client, session_id, code).json()
    assert body["is_successful"] is True
    assert len(body["plotly_outputs"]) == 2
    first = body["plotly_outputs"][0]
    assert first.startswith("```plotly\n") and first.endswith("\n```\n")
    figure = json.loads(first[len("```plotly\n") : -len("\n```\n")])
    assert figure["data"][0]["type"] == "scattergl"  # plotly's choice above 1000 points
    assert figure["layout"]["xaxis"]["title"]["text"] == "gdpPercap"
    assert "True" in body["output"]


def test_matplotlib_figures_are_png(client, session_id):
    body = execute(client, session_id, "plt.plot([1, 2, 3]); plt.title('t'); plt.show()").json()
    (image,) = body["matplotlib_outputs"]
    import base64

    png = base64.b64decode(image[len("```matplotlib\n") : -len("\n```\n")])
    assert png.startswith(b"\x89PNG")


def test_failing_block_is_reported_and_other_figures_are_kept(client, session_id):
    code = (
        "# data_viz_agent code start\n"
        "fig = px.histogram(df, x='lifeExp')\n"
        "# data_viz_agent code end\n"
        "# statistical_analytics_agent code start\n"
        "x = 1\n"
        "print(df['no_such_column'].mean())\n"
        "# statistical_analytics_agent code end\n"
    )
    body = execute(client, session_id, code).json()
    assert body["is_successful"] is False
    assert json.loads(body["failed_agents"]) == ["statistical_analytics_agent"]
    assert len(body["plotly_outputs"]) == 1
    assert "=== ERROR IN STATISTICAL_ANALYTICS_AGENT ===" in body["output"]
    assert "Error in statistical_analytics_agent: KeyError: 'no_such_column'" in body["output"]
    assert ">>>    2 | print(df['no_such_column'].mean())" in body["output"]


def test_mutation_of_a_dataset_lasts_one_run(client, session_id):
    execute(client, session_id, "df.drop(columns=['pop'], inplace=True); df['x'] = 1")
    body = execute(client, session_id, "print(list(df.columns)[:6])").json()
    assert "['country', 'continent', 'year', 'lifeExp', 'pop', 'gdpPercap']" in body["output"]


def test_save_dataset_adds_a_derived_dataset(client, session_id):
    code = "recent = df[df.year == 2007]\nsave_dataset(recent, 'df_2007', 'Only 2007')\nprint(len(recent))"
    body = execute(client, session_id, code).json()
    assert body["saved_datasets"] == ["df_2007"]
    info = client.get("/api/datasets/df_2007", HTTP_X_SESSION_ID=session_id).json()
    assert (info["rows"], info["source"], info["description"]) == (142, "derived", "Only 2007")
    body = execute(client, session_id, "print(df_2007.lifeExp.max())").json()
    assert "82.603" in body["output"]


def test_uploaded_datasets_are_loaded_under_their_names(client, session_id):
    client.post(
        "/upload_dataframe", {"file": csv_file("a,b\n1,2\n3,4\n"), "name": "sales"}, HTTP_X_SESSION_ID=session_id
    )
    body = execute(client, session_id, "print(sales.b.sum())").json()
    assert body["output"] == "\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\n6\n\n"


def test_dataframe_print_is_a_table_block(client, session_id):
    body = execute(client, session_id, "print(df.head(2)[['country', 'year']])").json()
    assert (
        "<TABLE_START>\n | country | year\n0 | Afghanistan | 1952\n1 | Afghanistan | 1957\n<TABLE_END>"
        in body["output"]
    )


def test_empty_code_is_400(client, session_id):
    response = execute(client, session_id, "   \n")
    assert response.status_code == 400
    assert response.json() == {"detail": "No code provided", "code": "empty_code"}


def test_oversize_code_is_413(client, session_id, settings):
    settings.MAX_CODE_BYTES = 100
    response = execute(client, session_id, "x = 1\n" * 50)
    assert response.status_code == 413
    assert response.json()["code"] == "code_too_large"


def own_message(session_id: str) -> int:
    """A message in a chat of the anonymous caller of ``session_id``."""
    from chats.services import chat_create, chat_message_append

    chat = chat_create(user=None, session_id=session_id)
    return chat_message_append(chat=chat, sender="user", content="Show the data").pk


def test_execution_is_recorded_per_message_and_latest_code_is_returned(client, session_id):
    message_id = own_message(session_id)
    execute(client, session_id, "print(1)", message_id=message_id)
    execute(client, session_id, "print(undefined_name)", message_id=message_id)
    (execution,) = CodeExecution.objects.filter(message_id=message_id)
    assert (execution.initial_code, execution.latest_code, execution.is_successful) == (
        "print(1)",
        "print(undefined_name)",
        False,
    )
    assert execution.failed_agents == ["unknown_agent"]
    assert execution.error_messages["unknown_agent"].startswith("NameError: name 'undefined_name' is not defined")
    assert (execution.model_provider, execution.model_name) == ("offline", "offline-analyst")
    body = client.post(
        "/code/get-latest-code", {"message_id": message_id}, format="json", HTTP_X_SESSION_ID=session_id
    ).json()
    assert body == {
        "found": True,
        "message_id": message_id,
        "latest_code": "print(undefined_name)",
        "initial_code": "print(1)",
        "is_successful": False,
        "failed_agents": '["unknown_agent"]',
    }


def test_latest_code_of_another_session_is_not_found(client, session_id):
    message_id = own_message(session_id)
    execute(client, session_id, "print(1)", message_id=message_id)
    other = client.post("/generate-session").json()["session_id"]
    body = client.post(
        "/code/get-latest-code", {"message_id": message_id}, format="json", HTTP_X_SESSION_ID=other
    ).json()
    assert body == {"found": False, "message_id": message_id}


def test_message_of_another_caller_is_404_and_nothing_runs(client, session_id):
    other = client.post("/generate-session").json()["session_id"]
    foreign = own_message(other)
    response = execute(client, session_id, "print(1)", message_id=foreign)
    assert response.status_code == 404
    assert response.json() == {"detail": f"Message with ID {foreign} not found", "code": "message_not_found"}
    assert not CodeExecution.objects.exists()


@pytest.mark.parametrize("message_id", [2**63, 2**64 + 5, -1, 0])
def test_message_id_out_of_range_is_400(client, session_id, message_id):
    response = execute(client, session_id, "print(1)", message_id=message_id)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["detail"].startswith("message_id: Ensure this value is")


def test_clean_code_hoists_imports():
    code = (
        "# data_viz_agent code start\nimport pandas as pd\nx = 1\n# data_viz_agent code end\n"
        "# sk_learn_agent code start\nimport numpy as np\nimport pandas as pd\ny = 2\n# sk_learn_agent code end\n"
    )
    assert clean_code(code) == (
        "import numpy as np\nimport pandas as pd\n\n"
        "# data_viz_agent code start\nx = 1\n# data_viz_agent code end\n\n"
        "# sk_learn_agent code start\ny = 2\n# sk_learn_agent code end"
    )


def test_clean_code_route(client, session_id):
    body = client.post(
        "/code/clean-code", {"code": "x = 1\nimport os\n"}, format="json", HTTP_X_SESSION_ID=session_id
    ).json()
    assert body == {"cleaned_code": "import os\n\nx = 1"}


def test_split_blocks_keeps_a_preamble_as_unknown():
    blocks = split_blocks("a = 1\n# planner_data_viz_agent code start\nb = 2\n")
    assert [(b.name, b.code, b.header) for b in blocks] == [
        ("unknown", "a = 1", "UNKNOWN_AGENT"),
        ("planner_data_viz", "b = 2", "PLANNER_DATA_VIZ_AGENT"),
    ]


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x1c"])
def test_split_blocks_breaks_lines_only_where_python_does(separator):
    code = f"# note{separator}# data_viz_agent code start\nx = 1\r\ny = 2\n"
    assert [(b.name, b.code) for b in split_blocks(code)] == [
        ("unknown", f"# note{separator}# data_viz_agent code start\nx = 1\ny = 2")
    ]


def test_health_reports_the_isolation_level(client):
    body = client.get("/api/health").json()
    assert body["checks"]["sandbox"]["ok"] is True
    assert body["checks"]["sandbox"]["isolation"] in ("namespaces", "userns", "process")


def test_scikit_learn_clustering_runs_in_the_private_root(client, session_id):
    """KMeans asks threadpoolctl about loaded libraries (via /proc, absent in the sandbox's
    root): the server builds that once before forking."""
    code = (
        "from sklearn.cluster import KMeans\n"
        "labels = KMeans(n_clusters=3, n_init=10, random_state=42).fit_predict(df[['lifeExp', 'gdpPercap']])\n"
        "print(sorted(pd.Series(labels).value_counts().tolist()))"
    )
    body = execute(client, session_id, code).json()
    assert body["is_successful"] is True, body["output"]
    assert body["output"].startswith("\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\n[")


def test_output_that_is_not_valid_unicode_is_repaired(client, session_id):
    """Lone surrogates (errors="surrogateescape" decoding does that) cannot be sent as UTF-8."""
    body = execute(client, session_id, "print('x' + chr(0xD800) + 'y')").json()
    assert body["is_successful"] is True
    assert body["output"] == "\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\nx?y\n\n"
