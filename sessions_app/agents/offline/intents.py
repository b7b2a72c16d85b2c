"""What a question asks for: its intent, the columns in their roles, and its filters.

A question becomes an :class:`Analysis`: one of the intents below, the dataset it is
about, the columns it names (resolved with :mod:`.columns`) assigned to roles (x/y,
measure/group, target/features, time), the filters to apply first ("in 2007", "for
Europe", "where bedrooms > 3"), and options (aggregation, period, k, top-N, chart type).

Intents are found from the question's words (see ``_INTENT_WORDS``) and, when the words
are not decisive, from the kinds of the columns it names: one measure is a distribution,
two measures a relationship, a measure and a category a comparison of groups, a measure
and a time column a trend. A question with no intent of its own that follows an earlier
one ("now only for 2015", "same for Asia", "as a line chart instead") refines the latest
earlier question that had one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from sessions_app.agents.context import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT, DatasetContext
from sessions_app.agents.offline import columns as cols

OVERVIEW = "overview"
MISSING = "missing"
CLEAN = "clean"
DISTRIBUTION = "distribution"
RELATIONSHIP = "relationship"
CORRELATION = "correlation"
GROUPS = "groups"
TREND = "trend"
REGRESSION = "regression"
MODEL = "model"
CLUSTER = "cluster"
UNSUPPORTED = "unsupported"
INTENTS = (OVERVIEW, MISSING, CLEAN, DISTRIBUTION, RELATIONSHIP, CORRELATION, GROUPS, TREND, REGRESSION, MODEL, CLUSTER)

INTENT_TITLES = {
    OVERVIEW: "summary statistics",
    MISSING: "missing values",
    CLEAN: "data cleaning",
    DISTRIBUTION: "distribution",
    RELATIONSHIP: "relationship between two columns",
    CORRELATION: "correlations",
    GROUPS: "comparison across groups",
    TREND: "trend over time",
    REGRESSION: "regression",
    MODEL: "predictive model",
    CLUSTER: "clustering",
}

# Phrases per intent, as regular expressions over the lower-cased question.
_INTENT_WORDS: dict[str, list[str]] = {
    CLUSTER: [r"\bclust\w*", r"\bsegment\w*", r"\bk-?means\b", r"\bgroup similar\b"],
    MODEL: [
        r"\bpredict\w*",
        r"\bclassif\w*",
        r"\bmachine learning\b",
        r"\brandom forest\b",
        r"\btrain\w*\b.*\bmodel\b",
        r"\bml model\b",
        r"\bheld[- ]out\b",
        r"\baccuracy\b",
        r"\blogistic\b",
        r"\bsk-?learn\b|\bscikit\b",
        r"\bestimate\b.*\bfrom\b",
    ],
    REGRESSION: [r"\bregress\w*", r"\bols\b", r"\blinear model\b", r"\bcoefficients?\b", r"\bdeterminants? of\b"],
    CLEAN: [
        r"\bclean\w*",
        r"\bimput\w*",
        r"\bfill\w*\b.*\b(missing|null|nan|gaps?)\b",
        r"\bdrop\w*\b.*\b(duplicates?|missing|null)\b",
        r"\bdedup\w*",
        r"\bpre-?process\w*",
        r"\b(handle|treat|fix)\w*\b.*\b(missing|null)\b",
        r"\btidy\b",
    ],
    MISSING: [
        r"\bmissing\b",
        r"\bnulls?\b",
        r"\bnan\b",
        r"\bna values\b",
        r"\bempty (values|cells)\b",
        r"\bcompleteness\b",
    ],
    CORRELATION: [
        r"\bcorrelation matrix\b",
        r"\bheat ?map\b",
        r"\bcorrelations\b",
        r"\bmost correlated\b",
        r"\bwhich (variables|columns|features)\b.*\bcorrelat\w*",
        r"\bwhat (drives|affects|influences|explains)\b",
        r"\bdrivers? of\b",
    ],
    TREND: [
        r"\btrends?\b",
        r"\bover (the )?(time|years|months|decades|period)\b",
        r"\bthrough time\b",
        r"\bevol\w*",
        r"\btime series\b",
        r"\bgrowth\b",
        r"\b(grown|grew|grow)\b",
        r"\bchanged?\b.*\b(since|over|between|from)\b",
        r"\b(yearly|monthly|weekly|daily|quarterly|annual)\b",
        r"\b(per|by|each|every) (year|month|week|day|quarter)\b",
        r"\bacross (the )?years\b",
    ],
    GROUPS: [
        r"\bcompar\w*",
        r"\bdiffer\w*",
        r"\bacross\b",
        r"\b(by|per|for each|for every|in each|within each|grouped by|among)\b",
        r"\b(highest|lowest|largest|smallest|biggest|best|worst)\b",
        r"\btop \d+\b",
        r"\banova\b",
        r"\bbreak ?down\b",
    ],
    RELATIONSHIP: [
        r"\brelat\w*",
        r"\bcorrelat\w*",
        r"\bassociat\w*",
        r"\baffects?\b",
        r"\beffect of\b",
        r"\bimpacts?\b",
        r"\binfluenc\w*",
        r"\bdepends?\b",
        r"\bvs\.?\b|\bversus\b",
        r"\bagainst\b",
        r"\bscatter\w*",
        r"\blink\w*\b",
        r"\bconnect\w*",
    ],
    DISTRIBUTION: [
        r"\bdistribut\w*",
        r"\bhistogram\w*",
        r"\bspread\b",
        r"\bskew\w*",
        r"\bshape of\b",
        r"\bdensity\b",
        r"\bfrequenc\w*",
        r"\boutliers?\b",
        r"\brange of\b",
    ],
    OVERVIEW: [
        r"\boverview\b",
        r"\bsummar\w*",
        r"\bdescrib\w*",
        r"\bdescriptive\b",
        r"\bstatistics\b",
        r"\bstats\b",
        r"\bexplor\w*",
        r"\beda\b",
        r"\bprofile\b",
        r"\blook like\b",
        r"\babout (the|this) (data|dataset)\b",
        r"\b(average|mean|median|maximum|minimum|max|min|total|sum)\b",
        r"\bhow many\b",
    ],
}

# Asked for, but beyond what the offline analyst can do: named with the reason.
_UNSUPPORTED: list[tuple[str, str]] = [
    (r"\bforecast\w*|\barima\b|\bprophet\b|\bnext (year|month|quarter)\b", "forecasting future values"),
    (r"\bsentiment\b|\bnlp\b|\btopic model\w*|\bword ?cloud\b", "text analysis"),
    (r"\bchoropleth\b|\bon a map\b|\bmap of\b|\bgeographic\w*", "maps"),
    (r"\banomal\w*", "anomaly detection"),
    (r"\bneural\b|\bdeep learning\b|\bxgboost\b|\blightgbm\b", "that kind of model"),
    (r"\bseasonal decomposition\b|\bdecompos\w*", "seasonal decomposition"),
    (r"\bsurvival\b|\bcausal\b", "that kind of analysis"),
]

CHART_TYPES = {
    "histogram": r"\bhistograms?\b",
    "box": r"\bbox ?plots?\b|\bbox(es)?\b|\bwhiskers?\b",
    "violin": r"\bviolin\w*",
    "pie": r"\bpie\b",
    "heatmap": r"\bheat ?maps?\b",
    "scatter": r"\bscatter\w*",
    "area": r"\barea (chart|plot|graph)\b",
    "line": r"\blines?( chart| plot| graph)?\b",
    "bar": r"\bbars?( chart| plot| graph)?\b|\bcolumn chart\b",
}
_CHART_WORDS = (
    r"\b(plot|chart|graph|visuali[sz]\w*|draw|figure|histogram|scatter\w*|heat ?map|box ?plot|diagram|"
    r"confusion matrix)\b"
)
_STAT_WORDS = (
    r"\b(significan\w*|p-?values?|test|anova|statistic\w*|stats|slope|coefficients?|pearson|spearman|"
    r"quantify|compute|calculate|strength|how strong|numbers?)\b"
)
_FOLLOW_UP_CUES = (
    r"^(now|and|also|then|but|ok|okay|same|what about|how about|only|instead|again|repeat|redo|just)\b|"
    r"\b(instead|same|again|as well|too|this|that|it|them|those|these|previous|above)\b"
)
_CHART_CHANGE = r"\b(as|into|to|with) an? (\w+ )?(chart|plot|graph|histogram|heat ?map|box ?plot)\b|\binstead\b"

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
}
PERIODS = {
    "D": r"\b(daily|per day|by day|each day|every day)\b",
    "W": r"\b(weekly|per week|by week|each week|every week)\b",
    "M": r"\b(monthly|per month|by month|each month|every month)\b",
    "Q": r"\b(quarterly|per quarter|by quarter|each quarter)\b",
    "Y": r"\b(yearly|annual\w*|per year|by year|each year|every year|year over year|over the years)\b",
}
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october"]
MONTHS += ["november", "december"]


@dataclass
class Filter:
    column: str
    op: str  # == != > >= < <= in | year year_range month (the last three on a time column)
    value: object
    on_datetime: bool = False

    def describe(self) -> str:
        if self.op == "year":
            return f"{self.column} in {self.value}" if self.on_datetime else f"{self.column} = {self.value}"
        if self.op == "year_range":
            low, high = self.value  # type: ignore[misc]
            if low is None:
                return f"{self.column} before {high}"
            if high is None:
                return f"{self.column} from {low}"
            return f"{self.column} from {low} to {high}"
        if self.op == "month":
            return f"{self.column} in {MONTHS[int(self.value) - 1].title()}"  # type: ignore[call-overload]
        if self.op == "in":
            return f"{self.column} in {', '.join(map(str, self.value))}"  # type: ignore[call-overload]
        words = {"==": "is", "!=": "is not", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
        return f"{self.column} {words[self.op]} {self.value}"


@dataclass
class Analysis:
    intent: str
    dataset: DatasetContext
    source: str = ""  # the variable the code starts from
    mentioned: list[str] = field(default_factory=list)
    x: str | None = None
    y: str | None = None
    measure: str | None = None
    group: str | None = None
    time: str | None = None
    target: str | None = None
    features: list[str] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)  # columns the question restricts itself to
    filters: list[Filter] = field(default_factory=list)
    agg: str = "mean"
    period: str | None = None
    k: int = 3
    top: int | None = None
    ascending: bool = False
    chart: str | None = None
    wants_chart: bool = False
    chart_only: bool = False
    stats_words: bool = False
    clean_first: bool = False
    report_only: bool = False
    model_kind: str = "forest"
    reason: str = ""
    question: str = ""

    @property
    def classification(self) -> bool:
        column = self.dataset.column(self.target) if self.target else None
        return column is not None and is_classification_target(column)

    def column_kind(self, name: str | None) -> str | None:
        column = self.dataset.column(name) if name else None
        return column.kind if column else None

    @property
    def used_columns(self) -> list[str]:
        names = [self.x, self.y, self.measure, self.group, self.time, self.target, *self.features, *self.focus]
        names += [f.column for f in self.filters]
        return list(dict.fromkeys(name for name in names if name))


def is_classification_target(column) -> bool:
    if column.kind in (CATEGORICAL, BOOLEAN, TEXT):
        return True
    return (
        column.kind == NUMERIC
        and cols.is_integer_valued(column)
        and column.distinct is not None
        and column.distinct <= 10
    )


# --- the conversation ------------------------------------------------------------------


def matches(patterns: list[str] | str, text: str) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    return any(re.search(pattern, text) for pattern in patterns)


def own_intents(text: str) -> list[str]:
    """Intents whose words occur in the question, strongest first."""
    lowered = text.lower()
    return [intent for intent, patterns in _INTENT_WORDS.items() if matches(patterns, lowered)]


def unsupported_reason(text: str) -> str:
    lowered = text.lower()
    return next((reason for pattern, reason in _UNSUPPORTED if re.search(pattern, lowered)), "")


def chart_type(text: str) -> str | None:
    lowered = text.lower()
    return next((name for name, pattern in CHART_TYPES.items() if re.search(pattern, lowered)), None)


def number_in(text: str) -> int | None:
    match = re.search(r"\b(\d+|" + "|".join(NUMBER_WORDS) + r")\b", text)
    if not match:
        return None
    word = match.group(1)
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


# --- filters ---------------------------------------------------------------------------

_OPERATORS = [
    (r">=|≥|\bat least\b|\bno less than\b|\bminimum of\b", ">="),
    (r"<=|≤|\bat most\b|\bno more than\b|\bmaximum of\b", "<="),
    (r"!=|\bnot equal to\b", "!="),
    (r"==|=|\bequal to\b|\bequals\b|\bexactly\b", "=="),
    (
        r">|\b(?:is )?(?:above|over|greater than|more than|larger than|higher than|bigger than|exceeds?|exceeding)\b",
        ">",
    ),
    (r"<|\b(?:is )?(?:below|under|less than|fewer than|smaller than|lower than)\b", "<"),
]
_NUMBER = r"(-?\d[\d,]*(?:\.\d+)?|-?\.\d+)\s*(k|m|thousand|million|billion|bn)?\b"
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "billion": 1e9, "bn": 1e9}


def _number_value(text: str, scale: str | None) -> float | int:
    value = float(text.replace(",", ""))
    value *= _SCALE.get((scale or "").lower(), 1)
    return int(value) if value.is_integer() else value


def _column_before(text: str, position: int, dataset: DatasetContext) -> str | None:
    """The column named in the (up to 4) words just before ``position``."""
    before = text[:position]
    words = list(re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", before))[-4:]
    for first in range(len(words)):
        phrase = before[words[first].start() :]
        found = cols.find_mentions(phrase, dataset)
        numeric = [m.column for m in found if dataset.column(m.column).kind == NUMERIC]  # type: ignore[union-attr]
        if numeric:
            return numeric[-1]
    return None


def _column_after(text: str, position: int, dataset: DatasetContext) -> tuple[str | None, int]:
    """The numeric column named by the words right after ``position`` ("2 bathrooms"), and
    how many characters of ``text[position:]`` name it."""
    after = text[position:]
    if not re.match(r"\s*[A-Za-z_]", after):
        return None, 0
    words = list(re.finditer(r"[A-Za-z_][A-Za-z0-9_]*", after))[:2]
    phrase = after[: words[-1].end()]
    tokens = cols.tokens_of(phrase)
    for mention in cols.find_mentions(phrase, dataset):
        if mention.start == 0 and dataset.column(mention.column).kind == NUMERIC:  # type: ignore[union-attr]
            return mention.column, tokens[mention.end - 1].end
    return None, 0


def find_filters(text: str, dataset: DatasetContext) -> tuple[list[Filter], str]:
    """Filters in the question, and the question with their words blanked out."""
    filters: list[Filter] = []
    spans: list[tuple[int, int]] = []
    lowered = text.lower()

    def blank(start: int, end: int) -> None:
        spans.append((start, end))

    # Comparisons: "where bedrooms > 3", "price above 5 million", "more than 3 bedrooms".
    for pattern, op in _OPERATORS:
        for match in re.finditer(rf"(?:{pattern})\s*{_NUMBER}", lowered):
            if any(s <= match.start() < e for s, e in spans):
                continue
            value = _number_value(match.group(1), match.group(2))
            # "at least 2 bathrooms": the column right after the number, else the one before it.
            column, length = _column_after(text, match.end(), dataset)
            end = match.end() + length
            if column is None:
                column = _column_before(text, match.start(), dataset)
            if column is None:
                continue
            start = match.start()
            mention = [m for m in cols.find_mentions(text[: match.start()], dataset) if m.column == column]
            if mention:
                tokens = cols.tokens_of(text[: match.start()])
                start = tokens[mention[-1].start].start
            filters.append(Filter(column, op, value))
            blank(start, end)

    time_column = next(iter(cols.time_columns(dataset)), None)
    if time_column is not None:
        on_datetime = time_column.kind == DATETIME
        low, high = _year_bounds(time_column)

        def in_range(year: int) -> bool:
            return low is None or low <= year <= high

        def taken(position: int) -> bool:
            return any(start <= position < end for start, end in spans)

        for match in re.finditer(
            r"\b(?:between|from)\s+(1\d{3}|2\d{3})\s+(?:and|to|-|until|through)\s+(1\d{3}|2\d{3})\b", lowered
        ):
            first, second = int(match.group(1)), int(match.group(2))
            if in_range(first) and in_range(second) and not taken(match.start()):
                filters.append(
                    Filter(time_column.name, "year_range", (min(first, second), max(first, second)), on_datetime)
                )
                blank(match.start(), match.end())
        for match in re.finditer(r"\b(since|after|from|before|until|up to|prior to)\s+(1\d{3}|2\d{3})\b", lowered):
            year = int(match.group(2))
            if not in_range(year) or taken(match.start()):
                continue
            word = match.group(1)
            bounds = (year, None) if word in ("since", "from") else (year + 1, None) if word == "after" else None
            if bounds is None:
                bounds = (None, year) if word in ("until", "up to") else (None, year - 1)
            filters.append(Filter(time_column.name, "year_range", bounds, on_datetime))
            blank(match.start(), match.end())
        for match in re.finditer(r"\b(?:in|for|during|of|only|year|at)\s+(?:the year\s+)?(1\d{3}|2\d{3})\b", lowered):
            year = int(match.group(1))
            if in_range(year) and not taken(match.start()):
                filters.append(Filter(time_column.name, "year", year, on_datetime))
                blank(match.start(), match.end())
        if on_datetime:
            for match in re.finditer(r"\b(?:in|for|during|of|only)\s+(" + "|".join(MONTHS) + r")\b", lowered):
                if not taken(match.start()):
                    filters.append(Filter(time_column.name, "month", MONTHS.index(match.group(1)) + 1, True))
                    blank(match.start(), match.end())

    # Values of category columns: "for Europe", "rainy days" (weather = rain), "Europe and Asia".
    masked = _blank_out(text, spans)
    by_column: dict[str, list[object]] = {}
    for mention in cols.find_values(masked, dataset):
        if mention.value not in by_column.setdefault(mention.column, []):
            by_column[mention.column].append(mention.value)
        blank(mention.start, mention.end)
    for column, values in by_column.items():
        filters.append(Filter(column, "==", values[0]) if len(values) == 1 else Filter(column, "in", values))

    # A capitalised name after "for"/"in" that no column lists among its known values:
    # a value of the dataset's entity column ("for Germany" -> country == "Germany").
    entity = _entity_column(dataset)
    if entity is not None and entity not in by_column:
        masked = _blank_out(text, spans)
        for match in re.finditer(r"\b(?:for|in|of)\s+((?:[A-Z][\w.'-]*)(?:\s+[A-Z][\w.'-]*){0,2})", masked):
            name = match.group(1)
            if name.lower() in _NOT_NAMES or cols.find_mentions(name, dataset) or name.lower() in MONTHS:
                continue
            filters.append(Filter(entity, "==", name))
            blank(match.start(), match.end())
            break
    return filters, _blank_out(text, spans)


_ENTITY_WORDS = (
    "country",
    "name",
    "city",
    "state",
    "region",
    "symbol",
    "ticker",
    "company",
    "product",
    "team",
    "player",
)
_NOT_NAMES = frozenset({"python", "pandas", "plotly", "pearson", "anova", "ols", "r", "i", "the", "a", "gdp"})


def _entity_column(dataset: DatasetContext) -> str | None:
    for column in dataset.columns:
        if column.kind in (TEXT, CATEGORICAL) and any(word in cols.split_words(column.name) for word in _ENTITY_WORDS):
            return column.name
    return None


def _year_bounds(column) -> tuple[int | None, int | None]:
    try:
        if column.kind == DATETIME:
            return int(str(column.min)[:4]), int(str(column.max)[:4])
        return int(float(column.min)), int(float(column.max))
    except (TypeError, ValueError):
        return None, None


def _blank_out(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for index in range(start, min(end, len(chars))):
            chars[index] = " "
    return "".join(chars)


# --- building the analysis -------------------------------------------------------------


def choose_dataset(text: str, datasets: list[DatasetContext], *, intent: str | None = None) -> DatasetContext:
    """The dataset the question is about: named, or with the most columns and values named."""
    lowered = text.lower()
    named = [d for d in datasets if re.search(rf"\b{re.escape(d.name.lower())}\b", lowered)]
    if named:
        return max(named, key=lambda d: len(d.name))
    scores = []
    for index, dataset in enumerate(datasets):
        score = len(cols.mentioned_columns(text, dataset)) * 2 + len(cols.find_values(text, dataset))
        cleaned = dataset.derived and dataset.name.endswith("_clean") and intent not in (CLEAN, MISSING)
        scores.append((score, cleaned, -index, dataset))
    scores.sort(key=lambda item: item[:3], reverse=True)
    return scores[0][3]


_GROUP_CUE = r"\b(by|per|across|for each|for every|in each|within each|grouped by|among|between|each|every|of each)\s+$"
_TARGET_CUE = (
    r"\b(predict\w*|classif\w*|regress(ion)?( of)?|model\w*|explain\w*|estimate|forecast|target( is)?|determinants of|"
    r"drivers of|on|for)\s+(the\s+)?$"
)


def _after_cue(text: str, mention_start: int, cue: str) -> bool:
    return re.search(cue, text[:mention_start].lower()) is not None


def _starts(text: str, dataset: DatasetContext) -> dict[str, int]:
    tokens = cols.tokens_of(text)
    return {m.column: tokens[m.start].start for m in cols.find_mentions(text, dataset)}


def analyse(question: str, datasets: list[DatasetContext], *, history: list[str] | None = None) -> Analysis | None:
    """The analysis a question asks for, given the earlier questions (oldest first).

    None when the question is not about the data at all. Earlier questions are resolved
    in order, so a chain of refinements ("only for 2007", then "same for Asia") builds up.
    """
    if not datasets:
        return None
    previous: Analysis | None = None
    for earlier in history or []:
        if earlier.strip():
            resolved = _resolve(earlier, datasets, previous)
            if resolved is not None and resolved.intent != UNSUPPORTED:
                previous = resolved
    return _resolve(question, datasets, previous)


def _resolve(question: str, datasets: list[DatasetContext], previous: Analysis | None) -> Analysis | None:
    reason = unsupported_reason(question)
    if reason:
        dataset = choose_dataset(question, datasets)
        return Analysis(UNSUPPORTED, dataset, source=dataset.name, reason=reason, question=question)
    if previous is None:
        return build(question, datasets)
    lowered = question.lower().strip()
    own = own_intents(question)
    chart_change = re.search(_CHART_CHANGE, lowered) and not _names_columns(question, datasets)
    if chart_change or not _decisive(own, question, datasets, previous):
        return refine(previous, question)
    analysis = build(question, datasets)
    if analysis is None:
        return refine(previous, question) if re.search(_FOLLOW_UP_CUES, lowered) else None
    numeric_named = any(
        analysis.column_kind(name) == NUMERIC and not analysis.dataset.column(name).time_like  # type: ignore[union-attr]
        for name in analysis.mentioned
    )
    if (
        re.search(_FOLLOW_UP_CUES, lowered)
        and not numeric_named
        and analysis.dataset.name == previous.dataset.name
        and analysis.intent not in (CORRELATION, OVERVIEW, MISSING, CLEAN, CLUSTER)
    ):
        # "now by continent", "fit a regression on that": the new intent on the earlier columns.
        earlier = [previous.y, previous.target, previous.measure, previous.x, *previous.features, *previous.focus]
        extra = [name for name in dict.fromkeys(earlier) if name and name not in analysis.mentioned]
        inherited = build(f"{question} {' '.join(extra)}", [previous.dataset])
        if inherited is not None:
            inherited.question = question
            inherited.filters = _merge_filters(previous.filters, inherited.filters)
            return inherited
    return analysis


def _names_columns(question: str, datasets: list[DatasetContext]) -> bool:
    return any(cols.mentioned_columns(find_filters(question, d)[1], d) for d in datasets)


def _decisive(own: list[str], question: str, datasets: list[DatasetContext], previous: Analysis) -> bool:
    """Does the question carry an analysis of its own, rather than refine the previous one?"""
    if any(intent not in (GROUPS, OVERVIEW) for intent in own):
        return True
    dataset = previous.dataset
    named = cols.mentioned_columns(find_filters(question, dataset)[1], dataset)
    if own and named:
        return True
    # Two or more new columns and no intent words: a new question about those columns.
    return len([name for name in named if name not in previous.used_columns]) >= 2


def refine(previous: Analysis, question: str) -> Analysis:
    """``previous`` with the changes a follow-up asks for: filters, chart type, a new column."""
    dataset = previous.dataset
    filters, rest = find_filters(question, dataset)
    analysis = replace(previous, question=question, filters=_merge_filters(previous.filters, filters))
    chart = chart_type(question)
    if chart:
        analysis.chart = chart
        analysis.wants_chart = True
        only_chart = not filters and not cols.mentioned_columns(rest, dataset)
        analysis.chart_only = only_chart or analysis.chart_only
    mentioned = cols.mentioned_columns(rest, dataset)
    new = [name for name in mentioned if name not in previous.used_columns]
    if new:
        _swap_in(analysis, new[0])
    number = _top_n(question)
    if number:
        analysis.top = number
    return analysis


def _swap_in(analysis: Analysis, column: str) -> None:
    """Put a newly named column in the role of the previous one of the same kind."""
    dataset = analysis.dataset
    kind = dataset.column(column).kind  # type: ignore[union-attr]
    for role in ("y", "measure", "target", "group", "x"):
        current = getattr(analysis, role)
        if current is not None and dataset.column(current).kind == kind:  # type: ignore[union-attr]
            setattr(analysis, role, column)
            analysis.mentioned = [column if name == current else name for name in analysis.mentioned]
            analysis.features = [name for name in analysis.features if name != column]
            analysis.focus = [column if name == current else name for name in analysis.focus]
            return
    analysis.focus = [*analysis.focus, column]


def _merge_filters(old: list[Filter], new: list[Filter]) -> list[Filter]:
    replaced = {f.column for f in new}
    return [f for f in old if f.column not in replaced] + new


def _top_n(text: str) -> int | None:
    lowered = text.lower()
    match = re.search(r"\b(?:top|bottom|first|best|worst|highest|lowest|largest|smallest)\s+(\d+|\w+)\b", lowered)
    if match:
        word = match.group(1)
        if word.isdigit():
            return int(word)
        return NUMBER_WORDS.get(word)
    match = re.search(r"\b(\d+)\s+(?:highest|largest|biggest|most|lowest|smallest)\b", lowered)
    return int(match.group(1)) if match else None


def build(question: str, datasets: list[DatasetContext]) -> Analysis | None:
    """The analysis of a question on its own (no history)."""
    own = own_intents(question)
    lowered = question.lower()
    dataset = choose_dataset(question, datasets, intent=own[0] if own else None)
    filters, rest = find_filters(question, dataset)
    mentions = cols.mentioned_columns(rest, dataset)
    starts = _starts(rest, dataset)
    if not own and not mentions:
        return None
    analysis = Analysis(
        intent=OVERVIEW,
        dataset=dataset,
        source=dataset.name,
        mentioned=mentions,
        filters=filters,
        question=question,
        chart=chart_type(question),
        wants_chart=matches(_CHART_WORDS, lowered) or chart_type(question) is not None,
        stats_words=matches(_STAT_WORDS, lowered),
    )
    analysis.chart_only = analysis.wants_chart and not analysis.stats_words
    analysis.top = _top_n(question)
    analysis.ascending = bool(re.search(r"\b(bottom|lowest|smallest|worst|least)\b", lowered))
    analysis.agg = _aggregation(_without_mentions(rest, dataset).lower())
    analysis.period = next((code for code, pattern in PERIODS.items() if re.search(pattern, lowered)), None)
    if re.search(r"\blogistic\b", lowered):
        analysis.model_kind = "logistic"
    elif re.search(r"\blinear\b", lowered):
        analysis.model_kind = "linear"
    analysis.clean_first = CLEAN in own and any(i in _AFTER_CLEANING for i in own)

    kinds = {name: dataset.column(name).kind for name in mentions}  # type: ignore[union-attr]
    numeric = [n for n in mentions if kinds[n] == NUMERIC and not dataset.column(n).time_like]  # type: ignore[union-attr]
    times = [n for n in mentions if cols.is_time(dataset.column(n))]  # type: ignore[arg-type]
    groupish = [
        n
        for n in mentions
        if n not in times and cols.is_grouping(dataset.column(n), dataset.rows)  # type: ignore[arg-type]
    ]
    grouped_after_cue = [n for n in groupish if _after_cue(rest, starts[n], _GROUP_CUE)]
    value_columns = [f.column for f in filters if f.op in ("==", "in") and f.column not in mentions]
    several_values = [f.column for f in filters if f.op == "in"]

    intent = _choose_intent(own, numeric, times, groupish, grouped_after_cue, several_values, lowered)
    if intent is None:
        return None
    analysis.intent = intent
    if intent in (CLEAN, MISSING):
        analysis.report_only = intent == MISSING
        analysis.intent = CLEAN if intent == CLEAN else MISSING
        analysis.focus = mentions
    elif intent == OVERVIEW:
        analysis.focus = mentions
    elif intent == DISTRIBUTION:
        analysis.measure = (numeric or groupish or mentions or [None])[0] or _default_measure(dataset)
        group = [n for n in grouped_after_cue if n != analysis.measure]
        analysis.group = group[0] if group else None
    elif intent == RELATIONSHIP:
        pair = [n for n in mentions if kinds[n] == NUMERIC]
        if len(pair) >= 2:
            analysis.x, analysis.y = _order_pair(rest, pair[0], pair[1], starts)
        others = [n for n in groupish if n not in (analysis.x, analysis.y) and kinds[n] != NUMERIC]
        analysis.group = others[0] if others else None
    elif intent == CORRELATION:
        analysis.focus = [n for n in mentions if kinds[n] == NUMERIC]
    elif intent == GROUPS:
        _assign_groups(analysis, numeric, groupish, grouped_after_cue, value_columns + several_values)
    elif intent == TREND:
        available = cols.time_columns(dataset)
        analysis.time = times[0] if times else available[0].name if available else None
        measure = [n for n in numeric if n != analysis.time]
        analysis.measure = measure[0] if measure else None
        groups = [n for n in groupish if n != analysis.measure]
        analysis.group = groups[0] if groups else None
        if analysis.measure is None and analysis.agg != "count":
            analysis.measure = _default_measure(dataset)
    elif intent in (REGRESSION, MODEL):
        _assign_target(analysis, rest, mentions, starts)
        if intent == REGRESSION and analysis.column_kind(analysis.target) != NUMERIC:
            analysis.intent = MODEL
            analysis.model_kind = "logistic" if analysis.model_kind == "linear" else analysis.model_kind
    elif intent == CLUSTER:
        analysis.k = _cluster_count(lowered)
        analysis.features = [n for n in numeric]
        if len(analysis.features) < 2:
            analysis.features = [c.name for c in cols.measures(dataset)][:6]
    if analysis.intent == GROUPS and DISTRIBUTION in own and analysis.chart is None:
        analysis.chart = "box"  # the distribution of a measure per group
    if analysis.intent == DISTRIBUTION and analysis.group is not None:
        # The distribution of a measure per group is a comparison of groups, shown as boxes.
        analysis.intent = GROUPS
        analysis.chart = analysis.chart or "box"
    if analysis.clean_first and analysis.intent not in (CLEAN, MISSING):
        analysis.source = f"{dataset.name}_clean"
    infeasible = _infeasible(analysis)
    if infeasible:
        return Analysis(UNSUPPORTED, dataset, source=dataset.name, reason=infeasible, question=question)
    return analysis


def _infeasible(analysis: Analysis) -> str:
    """Why the data cannot answer the analysis ("" when it can)."""
    dataset = analysis.dataset
    numeric = [c for c in dataset.columns if c.kind == NUMERIC and not cols.is_identifier(c, dataset.rows)]
    if analysis.intent == TREND and analysis.time is None:
        return f"a trend over time on {dataset.name} (it has no date or year column)"
    if analysis.intent == CORRELATION and len(numeric) < 2:
        return f"correlations on {dataset.name} (they need at least two numeric columns)"
    if analysis.intent == RELATIONSHIP and (analysis.x is None or analysis.y is None) and len(numeric) < 2:
        return f"a relationship between columns of {dataset.name} (it needs two numeric columns)"
    if analysis.intent in (REGRESSION, MODEL) and (analysis.target is None or not analysis.features):
        return (
            f"that model on {dataset.name} (it needs a number or category to predict, not a date, an identifier "
            "or free text, and at least one other usable column)"
        )
    pinned = [f for f in analysis.filters if f.column == analysis.target and f.op == "=="]
    if analysis.intent == MODEL and analysis.classification and pinned:
        return (
            f"a classifier of {analysis.target} when the question keeps a single {analysis.target} ({pinned[0].value})"
        )
    if analysis.intent == CLUSTER and not any(analysis.column_kind(n) == NUMERIC for n in analysis.features):
        return f"clustering on {dataset.name} (it needs numeric columns)"
    return ""


def _without_mentions(text: str, dataset: DatasetContext) -> str:
    """The text with the column names blanked ("max temperature" is temp_max, not a maximum)."""
    tokens = cols.tokens_of(text)
    spans = [(tokens[m.start].start, tokens[m.end - 1].end) for m in cols.find_mentions(text, dataset)]
    for start, _ in list(spans):
        # "number of bedrooms" names the column, not a count.
        before = re.search(r"\bnumber of\s+$", text[:start], re.IGNORECASE)
        if before:
            spans.append((before.start(), start))
    return _blank_out(text, spans)


def _aggregation(lowered: str) -> str:
    if re.search(r"\b(total|sum|overall amount)\b", lowered):
        return "sum"
    if re.search(r"\b(how many|count|number of)\b", lowered):
        return "count"
    if re.search(r"\bmedian\b", lowered):
        return "median"
    if re.search(r"\b(maximum|max|peak)\b", lowered) and not re.search(r"\b(average|mean)\b", lowered):
        return "max"
    if re.search(r"\b(minimum|min)\b", lowered) and not re.search(r"\b(average|mean)\b", lowered):
        return "min"
    return "mean"


# Intents that a cleaning step can come before ("clean the data, then cluster it").
_AFTER_CLEANING = (CLUSTER, MODEL, REGRESSION, CORRELATION, TREND, DISTRIBUTION, RELATIONSHIP)


def _choose_intent(
    own: list[str],
    numeric: list[str],
    times: list[str],
    groupish: list[str],
    grouped_after_cue: list[str],
    several_values: list[str],
    lowered: str,
) -> str | None:
    """The one intent a question gets: its strongest words, checked against its columns."""
    categorical_groups = [g for g in groupish if g not in numeric]
    for intent in own:
        if intent == CLEAN:
            if not any(i in own for i in _AFTER_CLEANING):
                return CLEAN
            continue
        if intent == RELATIONSHIP:
            if len(numeric) >= 2:
                return RELATIONSHIP
            if len(numeric) == 1 and (categorical_groups or grouped_after_cue):
                return GROUPS
            if len(numeric) == 1 and times:
                return TREND
            if len(numeric) <= 1:
                return CORRELATION
            continue
        if intent == CORRELATION and len(numeric) == 2 and re.search(r"\bcorrelation (between|of)\b", lowered):
            return RELATIONSHIP
        if intent == GROUPS:
            if len(numeric) >= 2 and RELATIONSHIP in own:
                continue  # "lifeExp vs gdpPercap by continent": a relationship, coloured by group
            if times and not grouped_after_cue and not (set(groupish) - set(times)):
                return TREND
            if times and re.search(
                r"\b(by|per|each|over|across) (the )?(year|month|date|time|day|period)s?\b", lowered
            ):
                return TREND
            if groupish or grouped_after_cue or several_values:
                return GROUPS
            if numeric and re.search(r"\b(highest|lowest|largest|smallest|top|bottom)\b", lowered):
                return GROUPS if groupish else OVERVIEW
            continue
        if intent == OVERVIEW and groupish and not numeric and re.search(r"\b(how many|count|number of)\b", lowered):
            return GROUPS  # "how many days of each weather type": rows per group
        if intent == OVERVIEW and groupish and numeric and not times:
            return GROUPS
        if intent == OVERVIEW and times and numeric and re.search(r"\b(per|by|each|every)\b", lowered):
            return TREND
        return intent
    # No intent words: the kinds of the named columns decide.
    if len(numeric) >= 2 and not groupish:
        return RELATIONSHIP if len(numeric) == 2 else CORRELATION
    if numeric and times:
        return TREND
    if numeric and groupish:
        return GROUPS
    if numeric or groupish:
        return DISTRIBUTION
    if times:
        return TREND
    return None


def _order_pair(text: str, first: str, second: str, starts: dict[str, int]) -> tuple[str, str]:
    """(x, y): "effect of X on Y", "Y vs X", "does X affect Y", otherwise in writing order."""
    lowered = text.lower()
    a, b = sorted([first, second], key=lambda name: starts.get(name, 0))
    between = lowered[starts.get(a, 0) : starts.get(b, 0)]
    if re.search(r"\b(vs\.?|versus|against|as a function of|depending on|depends on|explained by|by)\b", between):
        return b, a
    return a, b


def _assign_groups(
    analysis: Analysis, numeric: list[str], groupish: list[str], after_cue: list[str], value_columns: list[str]
) -> None:
    dataset = analysis.dataset
    candidates = after_cue or [g for g in groupish if g not in numeric] or value_columns or groupish
    group = candidates[0] if candidates else None
    if group is None:
        categorical = [c.name for c in dataset.columns if c.kind in (CATEGORICAL, BOOLEAN)]
        group = categorical[0] if categorical else None
    analysis.group = group
    measure = [n for n in numeric if n != group]
    if measure:
        analysis.measure = measure[0]
    elif analysis.agg != "count":
        fallback = _default_measure(dataset)
        analysis.measure = fallback if fallback != group else None
        if analysis.measure is None:
            analysis.agg = "count"


def _default_measure(dataset: DatasetContext) -> str | None:
    found = cols.measures(dataset)
    return found[0].name if found else None


def _assign_target(analysis: Analysis, text: str, mentions: list[str], starts: dict[str, int]) -> None:
    dataset = analysis.dataset
    target = next((n for n in mentions if _after_cue(text, starts[n], _TARGET_CUE)), None)
    effect = re.search(r"\b(effect|impact|influence)s? of\b.*?\bon\b", text.lower())
    if effect:
        after = [n for n in mentions if starts[n] > effect.end() - 3]
        target = after[0] if after else target
    if target is None:
        target = next((n for n in mentions if _usable_target(dataset, n)), None)
    if target is None and not mentions:
        target = _default_measure(dataset)
    if target is not None and not _usable_target(dataset, target):
        target = None  # dates, identifiers and free text are not something to predict here
    analysis.target = target
    named = [n for n in mentions if n != target]
    usable = [n for n in named if _usable_feature(dataset, n)]
    if not usable:
        usable = [c.name for c in dataset.columns if c.name != target and _usable_feature(dataset, c.name)][:12]
    analysis.features = usable


def _usable_target(dataset: DatasetContext, name: str) -> bool:
    column = dataset.column(name)
    if column is None or column.kind in (DATETIME, TEXT) or cols.is_identifier(column, dataset.rows):
        return False
    return not (column.kind == CATEGORICAL and column.distinct and column.distinct > 30)


def _usable_feature(dataset: DatasetContext, name: str) -> bool:
    column = dataset.column(name)
    if column is None or cols.is_identifier(column, dataset.rows) or column.kind == DATETIME:
        return False
    if column.kind == TEXT:
        return False
    return not (column.kind == CATEGORICAL and column.distinct and column.distinct > 30)


def _cluster_count(lowered: str) -> int:
    match = re.search(r"\bk\s*=\s*(\d+)", lowered) or re.search(
        r"\b(\d+|" + "|".join(NUMBER_WORDS) + r")\s+(clusters|groups|segments|classes)\b", lowered
    )
    if match:
        word = match.group(1)
        value = int(word) if word.isdigit() else NUMBER_WORDS[word]
        if 2 <= value <= 20:
            return value
    return 3
