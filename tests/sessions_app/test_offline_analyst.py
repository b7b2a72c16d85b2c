"""The offline analyst's rules, one by one, with exact expected values.

The code it writes is run for real in ``test_offline_quality.py``; here: how goals are
parsed, questions resolved (intents, columns, filters, follow-ups), plans chosen over the
available agents, and how fixes, edits, titles, descriptions and summaries come out.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from sessions_app.agents.context import dataset_context_compute
from sessions_app.agents.offline import analyst
from sessions_app.agents.offline import columns as cols
from sessions_app.agents.offline.analyst import Conversation, PlanStep
from sessions_app.default_dataset import load_table
from sessions_app.ingest import read_csv

DATA = Path(__file__).resolve().parent.parent / "data"

AGENTS = {
    "planner_preprocessing_agent": "Category: Data Manipulation. Cleans data.",
    "planner_statistical_analytics_agent": "Category: Data Modelling. Statistics.",
    "planner_sk_learn_agent": "Category: Data Modelling. Machine learning.",
    "planner_data_viz_agent": "Category: Data Visualization. Charts.",
}


@pytest.fixture(scope="module")
def gapminder():
    return dataset_context_compute(name="df", description="", table=load_table())


@pytest.fixture(scope="module")
def housing():
    return dataset_context_compute(name="housing", description="", table=read_csv(DATA / "Housing.csv"))


@pytest.fixture(scope="module")
def weather():
    return dataset_context_compute(name="weather", description="", table=read_csv(DATA / "seattle-weather.csv"))


@pytest.fixture(scope="module")
def stocks():
    return dataset_context_compute(name="stocks", description="", table=read_csv(DATA / "stocks.csv"))


def history_goal(query: str, *earlier: str) -> str:
    past = "\n\n".join(f"Query: {q}\nSummary: (1) a finding" for q in earlier)
    return f"### Current Query:\n{query}\n\n### Previous Interaction History:\n{past}"


# --- goals -------------------------------------------------------------------------------


def test_parse_goal_plain_question():
    assert analyst.parse_goal("  What is the mean price?\n") == Conversation("What is the mean price?", [])


def test_parse_goal_with_history():
    goal = (
        "### Current Query:\nnow only for 2007\n\n### Previous Interaction History:\n"
        "Query: Compare lifeExp across continents\nSummary: Mean lifeExp by continent.\n(1) Highest: Oceania\n\n"
        "Query: and the median?\nSummary: Median by continent."
    )
    assert analyst.parse_goal(goal) == Conversation(
        "now only for 2007",
        [
            ("Compare lifeExp across continents", "Mean lifeExp by continent.\n(1) Highest: Oceania"),
            ("and the median?", "Median by continent."),
        ],
    )


# --- columns -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("relationship between GDP per capita and life expectancy", ["gdpPercap", "lifeExp"]),
        ("population trend", ["pop"]),
        ("life_exp and gdppercap", ["lifeExp", "gdpPercap"]),
        ("LIFEEXP by Continents", ["lifeExp", "continent"]),
        ("explain the popular countries", ["country"]),
    ],
)
def test_column_mentions_gapminder(gapminder, question, expected):
    assert cols.mentioned_columns(question, gapminder) == expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what are the max temperatures", ["temp_max"]),
        ("minimum temperature vs maximum temperature", ["temp_min", "temp_max"]),
        ("temperature over time", ["temp_max", "date"]),
        ("rainfall by weather", ["precipitation", "weather"]),
    ],
)
def test_column_mentions_weather(weather, question, expected):
    assert cols.mentioned_columns(question, weather) == expected


def test_column_mentions_singular_and_plural(housing):
    assert cols.mentioned_columns("price per bedroom and stories", housing) == ["price", "bedrooms", "stories"]
    assert cols.mentioned_columns("how many floors and baths", housing) == ["stories", "bathrooms"]


def test_a_name_of_many_words_is_found_only_written_out_in_full(housing):
    # Names past MAX_FUZZY_NAME_WORDS skip fuzzy matching (tokens x words^2): a hostile name
    # of thousands of words once stalled the engine for minutes.
    long_name = "_".join(f"part{i}" for i in range(2000))
    columns = [*housing.columns, dataclasses.replace(housing.columns[0], name=long_name)]
    dataset = dataclasses.replace(housing, columns=columns)
    written = " ".join(f"part{i}" for i in range(2000))
    assert cols.mentioned_columns(f"average of {written} by furnishingstatus", dataset) == [
        long_name,
        "furnishingstatus",
    ]
    partial = " ".join(f"part{i}" for i in range(1999))
    assert cols.mentioned_columns(f"average of {partial} please", dataset) == []


def test_resolve_column_spellings():
    columns = ["lifeExp", "gdpPercap", "temp_max", "first name"]
    assert cols.resolve_column("lifeexp", columns) == "lifeExp"
    assert cols.resolve_column("life_exp", columns) == "lifeExp"
    assert cols.resolve_column("GDP Percap", columns) == "gdpPercap"
    assert cols.resolve_column("tempmax", columns) == "temp_max"
    assert cols.resolve_column("first_name", columns) == "first name"
    assert cols.resolve_column("gdp", columns) == "gdpPercap"
    assert cols.resolve_column("zzz", columns) is None


def test_labels_in_words():
    assert [cols.label(name) for name in ("lifeExp", "gdpPercap", "pop", "temp_max")] == [
        "Life expectancy",
        "GDP per capita",
        "Population",
        "Temperature max",
    ]


# --- resolving questions -----------------------------------------------------------------


def test_relationship_with_year_filter(gapminder):
    analysis = analyst.resolve("What is the relationship between gdpPercap and lifeExp in 2007?", [gapminder])
    assert (analysis.intent, analysis.x, analysis.y) == ("relationship", "gdpPercap", "lifeExp")
    assert [f.describe() for f in analysis.filters] == ["year = 2007"]


def test_versus_puts_the_first_column_on_y(gapminder):
    analysis = analyst.resolve("plot lifeExp vs gdpPercap", [gapminder])
    assert (analysis.intent, analysis.x, analysis.y, analysis.chart_only) == (
        "relationship",
        "gdpPercap",
        "lifeExp",
        True,
    )


@pytest.mark.parametrize(
    ("question", "intent", "roles"),
    [
        ("Give me an overview of the data", "overview", {}),
        ("Are there missing values?", "missing", {}),
        ("What is the distribution of gdpPercap?", "distribution", {"measure": "gdpPercap"}),
        ("Show the correlation matrix", "correlation", {}),
        ("Compare life expectancy across continents", "groups", {"group": "continent", "measure": "lifeExp"}),
        ("How has population changed over time?", "trend", {"time": "year", "measure": "pop"}),
        ("Regress lifeExp on gdpPercap and pop", "regression", {"target": "lifeExp"}),
        ("Train a model to predict continent", "model", {"target": "continent"}),
        ("Cluster the countries into 4 groups", "cluster", {"k": 4}),
        ("Distribution of lifeExp by continent", "groups", {"group": "continent", "chart": "box"}),
        ("lifeExp and gdpPercap", "relationship", {"x": "lifeExp", "y": "gdpPercap"}),
        ("What drives lifeExp?", "correlation", {"focus": ["lifeExp"]}),
    ],
)
def test_intents_gapminder(gapminder, question, intent, roles):
    analysis = analyst.resolve(question, [gapminder])
    assert analysis.intent == intent
    assert {role: getattr(analysis, role) for role in roles} == roles


def test_regression_features_and_model_kinds(gapminder, housing, weather):
    regression = analyst.resolve("Regress lifeExp on gdpPercap, pop and continent", [gapminder])
    assert regression.features == ["gdpPercap", "pop", "continent"]
    weather_model = analyst.resolve("Can we predict the weather from temp_min and wind?", [weather])
    assert (weather_model.target, weather_model.features, weather_model.classification) == (
        "weather",
        ["temp_min", "wind"],
        True,
    )
    # Integers with at most 10 values are classes; a categorical target of a regression is a classifier.
    assert analyst.resolve("Predict the number of bedrooms", [housing]).classification is True
    logistic = analyst.resolve("Regress airconditioning on price and area", [housing])
    assert (logistic.intent, logistic.model_kind) == ("model", "forest")
    assert analyst.resolve("Use logistic regression to classify mainroad", [housing]).model_kind == "logistic"


@pytest.mark.parametrize(
    ("question", "filters"),
    [
        ("Average price by furnishingstatus where bedrooms > 3", ["bedrooms > 3"]),
        ("mean price of houses with at least 2 bathrooms by furnishingstatus", ["bathrooms >= 2"]),
        ("price above 5 million by furnishingstatus", ["price > 5000000"]),
        ("compare price of furnished and unfurnished houses", ["furnishingstatus in furnished, unfurnished"]),
    ],
)
def test_filters_housing(housing, question, filters):
    assert [f.describe() for f in analyst.resolve(question, [housing]).filters] == filters


def test_filters_gapminder_and_weather(gapminder, weather):
    china = analyst.resolve("How has the population of China changed since 1990?", [gapminder])
    assert (china.intent, [f.describe() for f in china.filters]) == (
        "trend",
        ["year from 1990", "country is China"],
    )
    rainy = analyst.resolve("average wind on rainy days in 2014", [weather])
    assert [f.describe() for f in rainy.filters] == ["date in 2014", "weather is rain"]
    assert analyst.resolve("lifeExp between 1960 and 1980 in Asia", [gapminder]).filters[0].value == (1960, 1980)


def test_aggregation_words_skip_column_names(weather):
    assert analyst.resolve("How does the max temperature change per month?", [weather]).agg == "mean"
    monthly = analyst.resolve("Monthly total precipitation", [weather])
    assert (monthly.intent, monthly.agg, monthly.period) == ("trend", "sum", "M")


# --- follow-ups --------------------------------------------------------------------------


def test_follow_up_takes_the_previous_intent_and_new_filter(gapminder):
    goal = history_goal("now only for 1952", "What is the relationship between gdpPercap and lifeExp in 2007?")
    analysis = analyst.resolve(goal, [gapminder])
    assert (analysis.intent, analysis.x, analysis.y) == ("relationship", "gdpPercap", "lifeExp")
    assert [f.describe() for f in analysis.filters] == ["year = 1952"]


def test_follow_up_same_for_another_group(gapminder):
    goal = history_goal("same for Asia", "How has lifeExp changed over time in Europe?")
    analysis = analyst.resolve(goal, [gapminder])
    assert (analysis.intent, analysis.measure) == ("trend", "lifeExp")
    assert [f.describe() for f in analysis.filters] == ["continent is Asia"]


def test_follow_up_chain_accumulates(gapminder):
    goal = history_goal("and for 1952?", "Compare life expectancy across continents", "now only for 2007")
    analysis = analyst.resolve(goal, [gapminder])
    assert (analysis.intent, analysis.group, [f.describe() for f in analysis.filters]) == (
        "groups",
        "continent",
        ["year = 1952"],
    )


def test_follow_up_chart_change_plans_only_the_chart(gapminder):
    goal = history_goal("as a line chart instead", "Compare life expectancy across continents")
    analysis = analyst.resolve(goal, [gapminder])
    assert (analysis.intent, analysis.chart, analysis.chart_only) == ("groups", "line", True)
    steps = analyst.plan(goal=goal, datasets=[gapminder], agents=AGENTS, complexity="basic")
    assert analyst.plan_text(steps) == "planner_data_viz_agent"
    assert [step.agent for step in steps] == ["planner_data_viz_agent"]


def test_follow_up_swaps_a_column(gapminder):
    goal = history_goal("what about gdpPercap?", "What is the distribution of lifeExp?")
    analysis = analyst.resolve(goal, [gapminder])
    assert (analysis.intent, analysis.measure) == ("distribution", "gdpPercap")


def test_follow_up_new_intent_on_previous_columns(gapminder):
    goal = history_goal("now fit a regression on that", "What is the relationship between gdpPercap and lifeExp?")
    analysis = analyst.resolve(goal, [gapminder])
    assert (analysis.intent, analysis.target, analysis.features) == ("regression", "lifeExp", ["gdpPercap"])


def test_new_question_after_history_is_not_a_follow_up(gapminder):
    goal = history_goal("Show the correlation matrix", "What is the distribution of lifeExp in 2007?")
    analysis = analyst.resolve(goal, [gapminder])
    assert (analysis.intent, analysis.filters) == ("correlation", [])


# --- allocation and plans ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Give me an overview of the data", ("basic", True)),
        ("What is the relationship between gdpPercap and lifeExp?", ("intermediate", True)),
        ("Train a model to predict continent", ("basic", True)),
        ("Cluster the countries into 3 groups", ("intermediate", True)),
        ("Clean the data, then show the distribution of pop", ("advanced", True)),
        ("What is the capital of France?", ("unrelated", False)),
        ("Forecast lifeExp for the next year", ("unrelated", True)),
    ],
)
def test_allocate(gapminder, question, expected):
    assert analyst.allocate(goal=question, datasets=[gapminder]) == expected


def test_plan_relationship(gapminder):
    steps = analyst.plan(
        goal="What is the relationship between gdpPercap and lifeExp in 2007?",
        datasets=[gapminder],
        agents=AGENTS,
        complexity="intermediate",
    )
    assert steps == [
        PlanStep(
            "planner_statistical_analytics_agent",
            ["pair"],
            ["df"],
            "Compute the Pearson correlation (r and p-value) and the least-squares line between gdpPercap and "
            "lifeExp. Use only rows where year = 2007.",
        ),
        PlanStep(
            "planner_data_viz_agent",
            ["fig"],
            ["df"],
            "Plot a scatter chart of lifeExp against gdpPercap. Use only rows where year = 2007.",
        ),
    ]


@pytest.mark.parametrize(
    ("question", "agents"),
    [
        ("Give me an overview of the data", ["planner_statistical_analytics_agent"]),
        ("Are there missing values?", ["planner_preprocessing_agent"]),
        ("Clean the data", ["planner_preprocessing_agent"]),
        ("Plot a histogram of lifeExp", ["planner_data_viz_agent"]),
        ("Compare lifeExp across continents", ["planner_statistical_analytics_agent", "planner_data_viz_agent"]),
        ("How has pop changed over time?", ["planner_statistical_analytics_agent", "planner_data_viz_agent"]),
        ("Regress lifeExp on gdpPercap", ["planner_statistical_analytics_agent"]),
        ("Predict continent from lifeExp", ["planner_sk_learn_agent"]),
        ("Predict continent from lifeExp and plot the results", ["planner_sk_learn_agent", "planner_data_viz_agent"]),
        (
            "Clean the data and then cluster it",
            ["planner_preprocessing_agent", "planner_sk_learn_agent", "planner_data_viz_agent"],
        ),
    ],
)
def test_plan_agents_per_intent(gapminder, question, agents):
    steps = analyst.plan(goal=question, datasets=[gapminder], agents=AGENTS, complexity="basic")
    assert [step.agent for step in steps] == agents


def test_plan_cluster_passes_its_result_to_the_chart(gapminder):
    steps = analyst.plan(goal="Cluster the countries into 4 groups", datasets=[gapminder], agents=AGENTS, complexity="")
    assert [(step.create, step.use) for step in steps] == [(["clustered"], ["df"]), (["fig"], ["clustered"])]


def test_plan_after_cleaning_uses_the_clean_dataset(housing):
    steps = analyst.plan(
        goal="Clean the data, then show the distribution of price", datasets=[housing], agents=AGENTS, complexity=""
    )
    assert [(step.create, step.use) for step in steps] == [
        (["housing_clean"], ["housing"]),
        (["values"], ["housing_clean"]),
        (["fig"], ["housing_clean"]),
    ]


def test_plan_missing_core_agent_takes_one_of_its_category(gapminder):
    agents = {
        "planner_statistical_analytics_agent": "Category: Data Modelling. Statistics.",
        "plotly_charts_agent": "Category: Data Visualization. Plotly charts.",
    }
    steps = analyst.plan(goal="Compare lifeExp across continents", datasets=[gapminder], agents=agents, complexity="")
    assert [step.agent for step in steps] == ["planner_statistical_analytics_agent", "plotly_charts_agent"]


def test_plan_missing_category_merges_into_the_closest_agent(gapminder):
    agents = {"statistical_analytics_agent": "Category: Data Modelling. Statistics."}
    steps = analyst.plan(goal="Compare lifeExp across continents", datasets=[gapminder], agents=agents, complexity="")
    assert steps == [
        PlanStep(
            "statistical_analytics_agent",
            ["table", "fig"],
            ["df"],
            "Compute the mean, median and count of lifeExp per continent, and a one-way ANOVA across the groups. "
            "Plot a bar chart of the mean of lifeExp per continent.",
        )
    ]


def test_plan_statistics_without_the_statistics_agent_uses_the_other_modeller(gapminder):
    agents = {
        "planner_sk_learn_agent": "Category: Data Modelling. Machine learning.",
        "planner_data_viz_agent": "Category: Data Visualization. Charts.",
    }
    steps = analyst.plan(goal="Regress lifeExp on gdpPercap", datasets=[gapminder], agents=agents, complexity="")
    assert [step.agent for step in steps] == ["planner_sk_learn_agent"]


def test_plan_unsupported_and_unrelated_questions(gapminder):
    assert analyst.plan(goal="Forecast lifeExp for 2030", datasets=[gapminder], agents=AGENTS, complexity="") == [
        PlanStep(
            "basic_qa_agent",
            [],
            [],
            "The offline analyst cannot do forecasting future values; answer with what it can do instead",
        )
    ]
    assert analyst.plan(goal="Tell me a joke", datasets=[gapminder], agents=AGENTS, complexity="unrelated") == [
        PlanStep("basic_qa_agent", [], [], "Not a question about the loaded data")
    ]


def test_plan_without_agents_is_empty(gapminder):
    assert analyst.plan(goal="Compare lifeExp across continents", datasets=[gapminder], agents={}, complexity="") == []


def test_plan_instructions_text(gapminder):
    steps = analyst.plan(goal="Clean the data", datasets=[gapminder], agents=AGENTS, complexity="basic")
    assert json.loads(analyst.plan_instructions_text(steps)) == {
        "planner_preprocessing_agent": {
            "create": ["df_clean"],
            "use": ["df"],
            "instruction": "Clean df: fill missing numbers with the median and other missing values with the most "
            "common value, parse date-like columns, drop duplicate rows, and save the result as df_clean.",
        }
    }


# --- code --------------------------------------------------------------------------------


def test_write_code_per_role(gapminder):
    goal = "What is the relationship between gdpPercap and lifeExp in 2007?"
    stats_code, intent = analyst.write_code(
        agent="planner_statistical_analytics_agent", goal=goal, datasets=[gapminder], plan_instructions=""
    )
    assert stats_code.splitlines()[:3] == [
        '"""Relationship between gdpPercap and lifeExp (year = 2007)"""',
        "data = df.copy()",
        'data = data[data["year"] == 2007]',
    ]
    assert 'r, p_value = stats.pearsonr(pair["gdpPercap"], pair["lifeExp"])' in stats_code
    assert "px." not in stats_code
    assert intent.startswith("Compute the Pearson correlation (r and p-value)")
    chart_code, _ = analyst.write_code(agent="data_viz_agent", goal=goal, datasets=[gapminder], plan_instructions="")
    assert "fig = px.scatter(" in chart_code and "stats.pearsonr" not in chart_code
    assert chart_code.rstrip().splitlines()[-2] == 'print("Key findings:")' or "Key findings" in chart_code


def test_write_code_custom_template_by_category(gapminder):
    code, _ = analyst.write_code(
        agent="my_charts",
        goal="Compare lifeExp across continents",
        datasets=[gapminder],
        plan_instructions="",
        category="Data Visualization",
    )
    assert "fig = px.bar(" in code and "f_oneway" not in code


def test_write_code_follows_plan_instructions(gapminder):
    instructions = json.dumps({"create": ["table", "fig"], "use": ["df"], "instruction": "Compute it. Plot it."})
    code, _ = analyst.write_code(
        agent="planner_statistical_analytics_agent",
        goal="Compare lifeExp across continents",
        datasets=[gapminder],
        plan_instructions=instructions,
    )
    assert "stats.f_oneway" in code and "fig = px.bar(" in code
    assert code.count('print("Key findings:")') == 1


def test_write_code_dates_stored_as_text_are_parsed(stocks):
    code, _ = analyst.write_code(
        agent="planner_statistical_analytics_agent",
        goal="Show the price trend for each symbol",
        datasets=[stocks],
        plan_instructions="",
    )
    assert 'data["date"] = pd.to_datetime(data["date"], errors="coerce")' in code
    assert 'data["period"] = data["date"].dt.to_period("M").dt.start_time' in code


def test_write_code_quotes_formula_names():
    from sessions_app.agents.context import ColumnContext, DatasetContext

    dataset = DatasetContext(
        "sales",
        "",
        100,
        [
            ColumnContext("unit price", "double", "numeric", 0, 90, min=1.0, max=9.0, mean=4.0),
            ColumnContext("units", "double", "numeric", 0, 50, min=1.0, max=99.0, mean=20.0),
            ColumnContext("region", "string", "categorical", 0, 4, top_values=[{"value": "North", "count": 30}]),
        ],
    )
    code, _ = analyst.write_code(
        agent="statistical_analytics_agent",
        goal="Regress units on unit price and region",
        datasets=[dataset],
        plan_instructions="",
    )
    assert 'model = smf.ols("units ~ Q(\\"unit price\\") + C(region)", data=model_data).fit()' in code


def test_write_code_for_an_unrelated_question_is_an_overview(gapminder):
    code, intent = analyst.write_code(
        agent="data_viz_agent", goal="tell me a joke", datasets=[gapminder], plan_instructions=""
    )
    assert code.startswith('"""The question names no analysis of the data: an overview of df instead"""\n')
    assert intent == "An overview of df, since the question names no analysis of the data."


# --- summaries and general answers -------------------------------------------------------


def test_summarize_quotes_the_findings():
    response = (
        "# Distribution of lifeExp (year = 2007)\ndata = df.copy()\n\nOutput:\n"
        "Rows after filtering (year = 2007): 142\n<TABLE_START>\n| count\n<TABLE_END>\n"
        "Key findings:\n- Mean lifeExp: 67.01\n- Median lifeExp: 71.94\n- Skewness: -0.689 (left-skewed)\n"
    )
    assert analyst.summarize(goal="distribution of lifeExp in 2007", agent_response=response) == (
        "Distribution of lifeExp (year = 2007). Based on 142 rows (year = 2007).\n"
        "(1) Mean lifeExp: 67.01\n(2) Median lifeExp: 71.94\n(3) Skewness: -0.689 (left-skewed)"
    )


def test_summarize_says_plainly_when_the_code_failed():
    response = (
        "# Trend of mean pop per year\nx = 1\nOutput:\n\n"
        "Error in statistical_analytics_agent: KeyError: 'popx'\nProblem at line 3 of statistical_analytics:\n"
    )
    assert analyst.summarize(goal="trend of pop", agent_response=response) == (
        "Trend of mean pop per year: the code failed with KeyError: 'popx'. "
        "No results were computed; the code needs fixing before it can answer the question."
    )


def test_summarize_reads_the_chat_services_error_line():
    response = (
        "# Relationship between x and y\ndata = df.copy()\n\nOutput:\n"
        "Rows after filtering (year = 2007): 142\n"
        "Error: ValueError: x and y must have length at least 2.\nProblem at line 9 of statistical_analytics:\n"
    )
    assert analyst.summarize(goal="x vs y", agent_response=response) == (
        "Relationship between x and y: the code failed with ValueError: x and y must have length at least 2. "
        "No results were computed; the code needs fixing before it can answer the question."
    )


def test_answer_general_lists_real_columns(housing):
    answer = analyst.answer_general(goal="What's the weather in Paris?", datasets=[housing])
    assert answer.splitlines()[0].startswith("That question is not one I can answer")
    assert '- Relationship between two columns: "What is the relationship between area and price?"' in answer
    assert '- Comparison across groups: "Compare the average price across mainroad"' in answer
    forecast = analyst.answer_general(goal="forecast price next year", datasets=[housing])
    assert forecast.startswith("I can't do forecasting future values:")


# --- fixes -------------------------------------------------------------------------------


def test_fix_key_error_uses_the_real_column(gapminder):
    fixed = analyst.fix_code(
        code='x = df["lifeexp"].mean()\nprint(x)\n', error="KeyError: 'lifeexp'", datasets=[gapminder]
    )
    assert fixed == 'x = df["lifeExp"].mean()\nprint(x)\n'


def test_fix_not_in_index(gapminder):
    fixed = analyst.fix_code(
        code='x = df[["life_exp", "GDP_percap"]].mean()\n',
        error="KeyError: \"['life_exp', 'GDP_percap'] not in index\"",
        datasets=[gapminder],
    )
    assert fixed == 'x = df[["lifeExp", "gdpPercap"]].mean()\n'


def test_fix_plotly_column_error(gapminder):
    error = (
        "ValueError: Value of 'x' is not the name of a column in 'data_frame'. "
        "Expected one of ['country', 'continent'] but received: gdp"
    )
    fixed = analyst.fix_code(code='fig = px.scatter(df, x="gdp", y="lifeExp")\n', error=error, datasets=[gapminder])
    assert fixed == 'fig = px.scatter(df, x="gdpPercap", y="lifeExp")\n'


def test_fix_name_error_of_a_dataset(gapminder, housing):
    assert analyst.fix_code(
        code='data = dataset.copy()\nprint(data["pop"].sum())\n',
        error="NameError: name 'dataset' is not defined",
        datasets=[gapminder],
    ) == ('data = df.copy()\nprint(data["pop"].sum())\n')
    assert analyst.fix_code(
        code="h = Housing.copy()\n", error="NameError: name 'Housing' is not defined", datasets=[housing]
    ) == ("h = housing.copy()\n")


def test_fix_dates_stored_as_text(stocks):
    code = 'data = stocks.copy()\ndata["year"] = data["date"].dt.year\nprint(data)\n'
    error = (
        "AttributeError: Can only use .dt accessor with datetimelike values\n"
        "Problem at line 2 of statistical_analytics:\n      1 | data = stocks.copy()\n"
        '>>>    2 | data["year"] = data["date"].dt.year\n'
    )
    assert analyst.fix_code(code=code, error=error, datasets=[stocks]) == (
        'data = stocks.copy()\ndata["date"] = pd.to_datetime(data["date"], errors="coerce")\n'
        'data["year"] = data["date"].dt.year\nprint(data)\n'
    )


def test_fix_numbers_stored_as_text():
    from sessions_app.agents.context import ColumnContext, DatasetContext

    dataset = DatasetContext(
        "sales", "", 3, [ColumnContext("amount", "string", "text", 0, 3, samples=["1,200", "30", "n/a"])]
    )
    code = 'data = sales.copy()\nfor i in range(2):\n    total = data["amount"].astype(float).sum()\n'
    error = (
        "ValueError: could not convert string to float: '1,200'\nProblem at line 3 of x:\n"
        '>>>    3 |     total = data["amount"].astype(float).sum()\n'
    )
    assert analyst.fix_code(code=code, error=error, datasets=[dataset]) == (
        "data = sales.copy()\nfor i in range(2):\n"
        '    data["amount"] = pd.to_numeric(data["amount"], errors="coerce")\n'
        '    total = data["amount"].astype(float).sum()\n'
    )


def test_fix_reductions_over_text_columns(gapminder):
    error = "ValueError: could not convert string to float: 'Afghanistan'\n>>>    1 | print(df.corr())"
    assert analyst.fix_code(code="print(df.corr())\n", error=error, datasets=[gapminder]) == (
        "print(df.corr(numeric_only=True))\n"
    )


def test_fix_leaves_unknown_errors_alone(gapminder):
    code = "print(1 / 0)\n"
    assert analyst.fix_code(code=code, error="ZeroDivisionError: division by zero", datasets=[gapminder]) == code


# --- edits -------------------------------------------------------------------------------

BAR = (
    'table = df.groupby("continent", as_index=False)["lifeExp"].mean()\n'
    "fig = px.bar(\n"
    '    table, x="continent", y="lifeExp", title="Mean life expectancy by continent", text_auto=".3s",\n'
    '    labels={"lifeExp": "Life expectancy"}, template="plotly_white",\n'
    ")\n"
    "fig.show()\n"
)


def test_edit_chart_type_drops_arguments_the_new_chart_lacks(gapminder):
    assert analyst.edit_code(code=BAR, prompt="make it a line chart", datasets=[gapminder]) == (
        'table = df.groupby("continent", as_index=False)["lifeExp"].mean()\n'
        "fig = px.line(\n"
        "    table,\n"
        '    x="continent",\n'
        '    y="lifeExp",\n'
        '    title="Mean life expectancy by continent",\n'
        '    labels={"lifeExp": "Life expectancy"},\n'
        '    template="plotly_white",\n'
        "    markers=True,\n"
        ")\n"
        "fig.show()\n"
    )
    pie = analyst.edit_code(code=BAR, prompt="show it as a pie chart", datasets=[gapminder])
    assert 'px.pie(\n    table,\n    names="continent",\n    values="lifeExp",' in pie


def test_edit_title_colour_and_log_scale(gapminder):
    edited = analyst.edit_code(
        code=BAR, prompt="title it 'Life by continent', make the bars green and use a log scale", datasets=[gapminder]
    )
    assert edited.endswith(
        'fig.update_layout(title="Life by continent")\n'
        'fig.update_traces(marker_color="green")\n'
        'fig.update_yaxes(type="log")\n'
        "fig.show()\n"
    )


def test_edit_swaps_a_column_with_its_labels(gapminder):
    edited = analyst.edit_code(code=BAR, prompt="use population instead of lifeExp", datasets=[gapminder])
    assert edited == BAR.replace('"lifeExp"', '"pop"').replace("Life expectancy", "Population").replace(
        "life expectancy", "population"
    )
    swapped = analyst.edit_code(code=BAR, prompt="show gdpPercap instead", datasets=[gapminder])
    assert '["gdpPercap"].mean()' in swapped and 'y="gdpPercap"' in swapped


def test_edit_top_n(gapminder):
    edited = analyst.edit_code(code=BAR, prompt="only show the top 3", datasets=[gapminder])
    assert 'table = table.nlargest(3, "lifeExp")\nfig = px.bar(' in edited
    bottom = analyst.edit_code(code=BAR, prompt="bottom 2 please", datasets=[gapminder])
    assert 'table = table.nsmallest(2, "lifeExp")' in bottom


def test_edit_not_understood_keeps_the_code(gapminder):
    assert analyst.edit_code(code=BAR, prompt="make it prettier", datasets=[gapminder]) == (
        "# Edit not understood (offline analyst). Supported: chart type "
        "(bar/line/scatter/histogram/box), title, colour, log scale, another column, top N.\n" + BAR
    )


# --- titles and descriptions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("What is the relationship between gdpPercap and lifeExp?", "Relationship GdpPercap LifeExp"),
        ("Compare life expectancy across continents", "Compare Life Expectancy"),
        ("Can you show me the distribution of price?", "Distribution Price"),
        ("hello", "Hello"),
        ("???", "Data Question"),
    ],
)
def test_chat_title(query, title):
    assert analyst.chat_title(query=query) == title


def test_describe_dataset_gapminder(gapminder):
    text = analyst.describe_dataset(datasets=[gapminder])
    lines = text.splitlines()
    assert lines[0] == (
        "`df`: 1,704 rows x 8 columns; each row is one country and year (142 country values x 12 year values)."
    )
    assert "- year (year): calendar year; 1952 to 2007, 12 distinct values." in lines
    assert "- lifeExp (number): life expectancy at birth, in years; 23.60 to 82.60, mean 59.47." in lines
    assert (
        "- continent (category): continent; 5 groups: Africa (624), Asia (396), Europe (360), Americas (300), "
        "Oceania (24)."
    ) in lines
    assert "- iso_num (integer): ISO 3166-1 numeric country code; a code, not a measure." in lines
    assert lines[-3:] == [
        "Time span: year from 1952 to 2007.",
        "Missing values: none.",
        "Notes: pop spans several orders of magnitude (consider log scales).",
    ]


def test_describe_dataset_keeps_the_existing_description(weather):
    text = analyst.describe_dataset(datasets=[weather], existing="Seattle weather, 2012-2015.")
    assert text.splitlines()[:3] == [
        "`weather`: 1,461 rows x 6 columns; each row is one date.",
        "Seattle weather, 2012-2015.",
        "Columns:",
    ]
    assert (
        "- weather (category): weather type; 5 groups: rain (641), sun (640), fog (101), drizzle (53), snow (26)."
        in (text.splitlines())
    )
