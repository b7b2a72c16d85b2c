"""The dataset every new session starts with, loaded as ``df``.

Source: the Gapminder extract that plotly ships (``plotly/package_data/datasets/
gapminder.csv.gz``; plotly is MIT-licensed). The figures come from the Gapminder
Foundation (CC BY 4.0) via Jennifer Bryan's ``gapminder`` R package: life expectancy,
population and GDP per capita for 142 countries every five years from 1952 to 2007.
Chosen because it has what analysis questions need: groups (continent, country), a time
axis (year), skewed and correlated measures (population, GDP per capita, life
expectancy), and no licence doubts. The product never reads ``../shared/``.
"""

from __future__ import annotations

from importlib import resources

import pyarrow as pa
import pyarrow.csv as pacsv

NAME = "df"
DISPLAY_NAME = "gapminder.csv"
COLUMNS = ["country", "continent", "year", "lifeExp", "pop", "gdpPercap", "iso_alpha", "iso_num"]

DESCRIPTION = """\
Gapminder world development indicators: one row per country and survey year, 142 \
countries observed every 5 years from 1952 to 2007 (1704 rows, no missing values).
Columns:
- country (string): country name, 142 distinct values.
- continent (string): Africa, Americas, Asia, Europe or Oceania.
- year (integer): 1952, 1957, ..., 2007 (12 distinct years).
- lifeExp (float): life expectancy at birth, in years (about 23.6 to 82.6).
- pop (integer): population (about 60 thousand to 1.3 billion).
- gdpPercap (float): GDP per capita in inflation-adjusted US dollars (about 241 to 113523).
- iso_alpha (string): ISO 3166-1 alpha-3 country code.
- iso_num (integer): ISO 3166-1 numeric country code.
Notes: pop and gdpPercap are strongly right-skewed (consider log scales); compare \
countries within a year, or follow one country across years. Source: Gapminder \
Foundation (CC BY 4.0), as shipped with the plotly package."""


def load_table() -> pa.Table:
    source = resources.files("plotly") / "package_data" / "datasets" / "gapminder.csv.gz"
    with resources.as_file(source) as path:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=COLUMNS))
    return table
