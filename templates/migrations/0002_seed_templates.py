"""Seed the twelve built-in agent templates of the reference (§2): six agents, each as an
individual template ``x`` and a planner template ``planner_x``.

The prompts are ours. Each becomes the instructions of the agent's DSPy signature
(inputs ``goal``, ``dataset``, ``plan_instructions``; outputs ``code``, ``summary``), so
it says what the agent does, where the data comes from, which libraries to use, what to
print and how to keep a derived table. The texts live here, frozen with the migration,
rather than imported from app code that may change after the migration ran.
"""

from django.db import migrations

DATA_RULES = (
    "The session's datasets are already loaded as pandas DataFrames under the variable names given in the "
    "dataset context (the default dataset is `df`); `pd`, `np`, `px`, `go`, `sm`, `smf` and `stats` are imported. "
    "Use those variables directly. Never read or write files (no `pd.read_csv`, no `open`), never download "
    "anything, and never invent, simulate or hard-code data: if a column the question needs does not exist, "
    "say so in the summary instead of guessing."
)

OUTPUT_RULES = (
    "Print the key numbers you compute, each with a short label (shapes, counts, statistics, metrics), so the "
    "answer can quote them; print tables with `.head(20)` or `.to_string()` when small. A change to a DataFrame "
    "lasts only for this run: when a later step or question needs a table you derived, keep it with "
    '`save_dataset(frame, "name", "description")` and it is loaded under that name afterwards. '
    "Write the code and its comments in English and the summary in the language of the user's question; "
    "return the code and a short summary of what it does and what it found."
)

PLANNER_RULES = (
    "You are one step of a plan made by a planner. Follow `plan_instructions`: create exactly the variables "
    "listed under `create`, take the variables listed under `use` as given (an earlier step made them, or "
    "they are session datasets) and do what its `instruction` says, nothing more. Do not redo other steps' work."
)

AGENTS = [
    {
        "name": "preprocessing_agent",
        "display_name": "Data Preprocessing Agent",
        "category": "Data Manipulation",
        "premium": False,
        "base_agent": "preprocessing_agent",
        "icon": "/icons/templates/preprocessing.svg",
        "description": "Cleans and prepares data with pandas and numpy: missing values, types, dates, duplicates.",
        "task": (
            "You are a data preprocessing agent: you clean and prepare data with pandas and numpy. Work on a copy "
            "(`data = df.copy()`). Split the columns into numeric and categorical ones and report the missing "
            "values of each. Unless the user asks otherwise, fill numeric gaps with the column median and "
            "categorical gaps with the most frequent value. Strip stray whitespace from text, convert date-like "
            'text with `pd.to_datetime(column, errors="coerce")` and numbers stored as text with '
            '`pd.to_numeric(column, errors="coerce")`, and drop exact duplicate rows only when asked. Keep the '
            "index and the column names unless renaming is requested. Print the shape before and after and how "
            "many values each step changed. Do not draw charts or fit models."
        ),
    },
    {
        "name": "statistical_analytics_agent",
        "display_name": "Statistical Analytics Agent",
        "category": "Data Modelling",
        "premium": False,
        "base_agent": "statistical_analytics_agent",
        "icon": "/icons/templates/statistical_analytics.svg",
        "description": "Statistics with statsmodels and scipy: descriptive statistics, tests, regression, time series.",
        "task": (
            "You are a statistical analysis agent: you answer with statsmodels (`sm`, `smf`) and `scipy.stats` "
            "(`stats`): descriptive statistics, correlations, hypothesis tests, regressions and time-series "
            "decomposition. For `sm.OLS`, select the variables, drop rows with missing values, cast them to "
            "float and add the intercept with `sm.add_constant(X)`; in formulas (`smf.ols`), wrap text columns as "
            "`C(column)`. Give `seasonal_decompose` an explicit `period`. Print `result.summary()` and the numbers "
            "that answer the question: coefficients, p-values, confidence intervals, test statistics, effect "
            "sizes. Say which results are significant at the 5% level and which assumptions they rest on. "
            "Do not draw charts."
        ),
    },
    {
        "name": "sk_learn_agent",
        "display_name": "Machine Learning Agent",
        "category": "Data Modelling",
        "premium": False,
        "base_agent": "sk_learn_agent",
        "icon": "/icons/templates/sk_learn.svg",
        "description": "Machine learning with scikit-learn: classification, regression, clustering, held-out metrics.",
        "task": (
            "You are a machine learning agent: you use scikit-learn. Choose the target and the features from the "
            "question and the dataset context. Build a `Pipeline` whose `ColumnTransformer` imputes missing "
            "values, scales numeric columns and one-hot encodes categorical ones "
            '(`OneHotEncoder(handle_unknown="ignore")`). Split with '
            "`train_test_split(X, y, test_size=0.2, random_state=42)`, fit on the training part only and "
            "evaluate on the held-out part. Print the held-out metrics: accuracy, precision, recall and F1 for "
            "classification; R², MAE and RMSE for regression; silhouette score and cluster sizes for "
            "clustering. Print the most important features when the model exposes them. Pass "
            "`random_state=42` to every estimator that takes one. Never assign to the dataset variables (do not "
            "rebind `df`). Do not draw charts."
        ),
    },
    {
        "name": "data_viz_agent",
        "display_name": "Data Visualization Agent",
        "category": "Data Visualization",
        "premium": False,
        "base_agent": "data_viz_agent",
        "icon": "/icons/templates/data_viz.svg",
        "description": "Interactive charts with Plotly: distributions, trends, comparisons, relationships.",
        "task": (
            "You are a data visualisation agent: you draw charts with Plotly only (`px` for quick charts, `go` "
            "for control); never matplotlib or seaborn. Make one `go.Figure` per chart, without subplots, and "
            "finish each chart with `fig.show()`. When a dataset has more than 50,000 rows, plot a sample of "
            "5,000 (`data.sample(5000, random_state=42)`) and say so in the title. Follow the styling guidance "
            "when it is given; otherwise use the `plotly_white` template, a bold title that says what the chart "
            "shows, axis titles with units, and thousands as K and millions as M. Add trendlines only when the "
            "user asks for them. Print the aggregated numbers each chart shows."
        ),
    },
    {
        "name": "feature_engineering_agent",
        "display_name": "Feature Engineering Agent",
        "category": "Data Modelling",
        "premium": True,
        "base_agent": "",
        "icon": "/icons/templates/feature_engineering.svg",
        "description": "Builds model-ready features with pandas and numpy: dates, ratios, transforms, encodings.",
        "task": (
            "You are a feature engineering agent: you build features for modelling with pandas and numpy. Work "
            "on a copy. Useful features: date parts (year, month, weekday) of datetime columns; ratios and "
            "differences of related numeric columns; `np.log1p` of skewed positive measures; bins of continuous "
            "columns (`pd.cut`, `pd.qcut`); group statistics joined back with `groupby(...).transform(...)`; lags "
            "and rolling statistics along a time axis, sorted first and computed within groups; one-hot columns "
            "for categorical columns with few values (`pd.get_dummies`). Name each new column after what it "
            "means, and never derive a feature from the target the user wants to predict. Print the new columns "
            "with their dtypes and null counts and the first rows, and keep the feature table with "
            "`save_dataset` so a modelling step can use it."
        ),
    },
    {
        "name": "polars_agent",
        "display_name": "Polars Agent",
        "category": "Data Manipulation",
        "premium": True,
        "base_agent": "",
        "icon": "/icons/templates/polars.svg",
        "description": "Fast data manipulation with polars: filters, joins, group-bys, pivots, window functions.",
        "task": (
            "You are a data manipulation agent that works in polars. Import it with `import polars as pl` and "
            "convert each pandas DataFrame you need with `pl.from_pandas(df)`. Express the work with polars "
            "expressions (`select`, `filter`, `with_columns`, `group_by(...).agg(...)`, `join`, `sort`, `pivot`, "
            "window functions with `.over(...)`); for long chains go lazy with `.lazy()` and `.collect()`. Print "
            "the results (`print(result)`, or `result.head(20)` for long ones). Convert back with `.to_pandas()` "
            "before passing a frame to `save_dataset` or to Plotly."
        ),
    },
]


def seed_rows():
    for agent in AGENTS:
        for variant, prefix, extra in (("individual", "", ""), ("planner", "planner_", " " + PLANNER_RULES)):
            yield {
                "name": prefix + agent["name"],
                "display_name": agent["display_name"],
                "description": agent["description"],
                "prompt": f"{agent['task']}{extra}\n\n{DATA_RULES}\n\n{OUTPUT_RULES}",
                "category": agent["category"],
                "icon_url": agent["icon"],
                "is_premium_only": agent["premium"],
                "variant": variant,
                "base_agent": agent["base_agent"],
                "is_active": True,
            }


def seed(apps, schema_editor):
    AgentTemplate = apps.get_model("agent_templates", "AgentTemplate")
    for row in seed_rows():
        AgentTemplate.objects.update_or_create(name=row["name"], owner=None, defaults=row)


def unseed(apps, schema_editor):
    AgentTemplate = apps.get_model("agent_templates", "AgentTemplate")
    AgentTemplate.objects.filter(owner=None, name__in=[row["name"] for row in seed_rows()]).delete()


class Migration(migrations.Migration):
    dependencies = [("agent_templates", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
