"""Which columns and values of a dataset a question talks about.

People rarely type column names exactly: "life expectancy" means ``lifeExp``,
"population" means ``pop``, "max temperature" means ``temp_max``. Column names and
questions are both split into lower-case words (camelCase, snake_case, spaces), plurals
are reduced to singulars, and a question word matches a column word when they are equal,
when one is a prefix of the other (``population``/``pop``, ``temp``/``temperature``), or
through a small synonym table. Matches of every word of a column beat partial ones
(``temperature`` alone names ``temp_max`` only when nothing better does).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from sessions_app.agents.context import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT, ColumnContext, DatasetContext

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Question words that name something else than what their spelling suggests.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "population": ("pop",),
    "people": ("pop",),
    "inhabitant": ("pop",),
    "expectancy": ("exp",),
    "longevity": ("lifeexp",),
    "temperature": ("temp",),
    "precipitation": ("precip", "prcp"),
    "rainfall": ("precipitation", "precip", "prcp"),
    "cost": ("price",),
    "size": ("area", "sqft"),
    "surface": ("area",),
    "floor": ("stories", "story"),
    "storey": ("stories", "story"),
    "bath": ("bathroom",),
    "ticker": ("symbol",),
    "stock": ("symbol",),
    "company": ("symbol",),
    "time": ("date", "timestamp", "datetime"),
    "day": ("date",),
    "when": ("date",),
    "average": ("avg", "mean"),
    "number": ("num", "count"),
    "percentage": ("pct", "percent"),
    "quantity": ("qty",),
    "revenue": ("sales",),
    "gdp": ("gdp",),
}

# Words that never name a column on their own (they are the question's grammar).
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "per",
        "vs",
        "versus",
        "with",
        "without",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "do",
        "does",
        "did",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "when",
        "where",
        "show",
        "plot",
        "draw",
        "chart",
        "graph",
        "make",
        "give",
        "tell",
        "me",
        "us",
        "please",
        "can",
        "could",
        "would",
        "should",
        "will",
        "let",
        "lets",
        "between",
        "across",
        "over",
        "under",
        "each",
        "every",
        "all",
        "any",
        "some",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "their",
        "there",
        "here",
        "than",
        "then",
        "also",
        "only",
        "just",
        "same",
        "now",
        "instead",
        "again",
        "about",
        "into",
        "as",
        "if",
        "not",
        "no",
        "yes",
        "data",
        "dataset",
        "table",
        "column",
        "columns",
        "row",
        "rows",
        "value",
        "values",
        "variable",
        "variables",
        "use",
        "using",
        "used",
        "based",
        "against",
        "among",
        "within",
        "i",
        "we",
        "you",
        "my",
        "our",
        "your",
        "have",
        "has",
        "had",
        "get",
        "find",
        "compute",
        "calculate",
        "display",
        "see",
        "look",
        "create",
        "build",
        "fit",
        "train",
        "run",
    ]
)

# Words too common to name a column when they match only part of its name.
GENERIC = frozenset(
    [
        "max",
        "min",
        "mean",
        "avg",
        "average",
        "total",
        "sum",
        "count",
        "number",
        "num",
        "rate",
        "value",
        "level",
        "high",
        "low",
        "year",
        "date",
        "time",
        "day",
        "month",
        "name",
        "type",
        "code",
        "id",
        "index",
        "first",
        "last",
        "new",
        "old",
    ]
)

# Column words that mark identifiers, not measures.
IDENTIFIER_WORDS = frozenset({"id", "iso", "code", "zip", "postcode", "index", "uuid", "key", "phone", "ssn"})
IGNORED_VALUES = frozenset(
    {"yes", "no", "true", "false", "none", "null", "nan", "na", "n/a", "other", "others", "unknown", "all", "total"}
)


def split_words(text: str) -> list[str]:
    """Lower-case words of a name or sentence: camelCase, snake_case and spaces split."""
    words = []
    for token in _TOKEN.findall(str(text)):
        words.extend(part.lower() for part in _PART.findall(token))
    return words


def singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def squash(text: str) -> str:
    """A name with case, spaces, dashes and underscores ignored: ``Life Exp`` -> ``lifeexp``."""
    return "".join(split_words(text))


@dataclass(frozen=True)
class Token:
    word: str  # lower-case, as written
    start: int  # character offsets in the question
    end: int

    @property
    def base(self) -> str:
        return singular(self.word)


def tokens_of(text: str) -> list[Token]:
    """Question words with their positions (camelCase words split into their parts)."""
    result = []
    for match in _TOKEN.finditer(text):
        offset = match.start()
        for part in _PART.finditer(match.group()):
            result.append(Token(part.group().lower(), offset + part.start(), offset + part.end()))
    return result


def _word_matches(token: str, column_word: str, *, anchored: bool) -> bool:
    """Does a question word name a column word? ``anchored``: other words of the column matched too."""
    base, target = singular(token), singular(column_word)
    if token in STOPWORDS:
        return False
    if base == target or token == column_word:
        return True
    if any(singular(alias) == target for alias in SYNONYMS.get(base, ()) + SYNONYMS.get(token, ())):
        return True
    shortest = 3 if anchored else 4
    if len(target) >= shortest and base.startswith(target):
        return True
    return len(base) >= 4 and target.startswith(base) and len(base) >= 0.6 * len(target)


@dataclass(frozen=True)
class Mention:
    column: str
    start: int  # token indexes, end exclusive
    end: int
    score: int  # 3: the name as written, 2: all its words, 1: one distinctive word
    gaps: int = 0  # question words inside the span that are not part of the name


# Fuzzy matching costs tokens x words^2; a longer name is found only when written out in full,
# so a hostile name of thousands of words cannot stall the engine.
MAX_FUZZY_NAME_WORDS = 8


def _written_out(lowered: list[str], column: str, key: str) -> list[Mention]:
    """Spans of whole question words that spell ``key`` exactly (linear in the question)."""
    token_at: dict[int, int] = {}
    token_ending_at: dict[int, int] = {}
    offset = 0
    for index, word in enumerate(lowered):
        token_at[offset] = index
        offset += len(word)
        token_ending_at[offset] = index + 1
    joined = "".join(lowered)
    found = []
    at = joined.find(key)
    while at != -1:
        if at in token_at and at + len(key) in token_ending_at:
            found.append(Mention(column, token_at[at], token_ending_at[at + len(key)], 3))
        at = joined.find(key, at + 1)
    return found


def _candidates(tokens: list[Token], column: str) -> list[Mention]:
    words = split_words(column)
    key = "".join(words)
    if not words:
        return []
    lowered = [token.word for token in tokens]
    if len(words) > MAX_FUZZY_NAME_WORDS:
        return _written_out(lowered, column, key)
    found: list[Mention] = []
    for start in range(len(tokens)):
        # The name itself, in any spelling (lifeExp, life_exp, Life Exp, lifeexp).
        for end in range(start + 1, min(len(tokens), start + len(words) + 2) + 1):
            joined = "".join(lowered[start:end])
            if joined == key or (len(key) >= 3 and singular(joined) == singular(key)):
                found.append(Mention(column, start, end, 3))
            elif end - start > 1 and len(key) >= 5 and joined.startswith(key) and len(joined) - len(key) <= 4:
                found.append(Mention(column, start, end, 2))  # "gdp per capita" for gdpPercap
        if len(key) < 3 and len(words) == 1:
            continue  # very short names must be written out
        # Every word of the column within a small window, in any order.
        window = range(start, min(len(tokens), start + len(words) + 1))
        used: set[int] = set()
        for word in words:
            hit = next(
                (
                    index
                    for index in window
                    if index not in used and _word_matches(lowered[index], word, anchored=len(words) > 1)
                ),
                None,
            )
            if hit is None:
                break
            used.add(hit)
        else:
            if start in used:
                end = max(used) + 1
                found.append(Mention(column, start, end, 2, gaps=end - start - len(used)))
        # One distinctive word of a multi-word column ("temperature" for temp_max).
        if len(words) > 1:
            token = lowered[start]
            if token not in GENERIC and any(_word_matches(token, word, anchored=False) for word in words):
                found.append(Mention(column, start, start + 1, 1))
    return found


def find_mentions(text: str, dataset: DatasetContext) -> list[Mention]:
    """Columns named in ``text``, in the order they are written, each span used once."""
    tokens = tokens_of(text)
    candidates = [mention for column in dataset.columns for mention in _candidates(tokens, column.name)]
    order = {column.name: index for index, column in enumerate(dataset.columns)}
    candidates.sort(key=lambda m: (-m.score, m.gaps, -(m.end - m.start), m.start, order[m.column]))
    taken: set[int] = set()
    chosen: list[Mention] = []
    for mention in candidates:
        span = set(range(mention.start, mention.end))
        if span & taken or any(m.column == mention.column for m in chosen):
            continue
        taken |= span
        chosen.append(mention)
    chosen.sort(key=lambda m: m.start)
    return chosen


def mentioned_columns(text: str, dataset: DatasetContext) -> list[str]:
    return [mention.column for mention in find_mentions(text, dataset)]


def resolve_column(name: str, columns: list[str]) -> str | None:
    """The real column a (mis)spelled name means: exact, then squashed, then the closest."""
    if name in columns:
        return name
    squashed = {squash(column): column for column in columns}
    key = squash(name)
    if key in squashed:
        return squashed[key]
    if singular(key) in {singular(k) for k in squashed}:
        return next(column for k, column in squashed.items() if singular(k) == singular(key))
    close = difflib.get_close_matches(key, list(squashed), n=1, cutoff=0.6)
    if close:
        return squashed[close[0]]
    words = split_words(name)
    for column in columns:
        column_words = split_words(column)
        if words and all(any(_word_matches(w, c, anchored=True) for c in column_words) for w in words):
            return column
    return None


# --- column roles ------------------------------------------------------------------------


def is_identifier(column: ColumnContext, rows: int) -> bool:
    """Codes and keys (iso_num, customer_id): numbers that are labels, not measures."""
    words = set(split_words(column.name))
    if words & IDENTIFIER_WORDS or column.name.lower().endswith("id"):
        return True
    return column.kind == TEXT and column.distinct is not None and column.distinct == rows


def is_time(column: ColumnContext) -> bool:
    return column.kind == DATETIME or (column.kind == NUMERIC and column.time_like)


def is_measure(column: ColumnContext, rows: int) -> bool:
    """A numeric column worth averaging: not an identifier, not a year."""
    return column.kind == NUMERIC and not column.time_like and not is_identifier(column, rows)


def is_grouping(column: ColumnContext, rows: int) -> bool:
    """Columns whose values form groups: categories, flags, and numbers with few values."""
    if column.kind in (CATEGORICAL, BOOLEAN):
        return True
    if column.kind == TEXT:
        return not is_identifier(column, rows)
    return column.kind == NUMERIC and not column.time_like and column.distinct is not None and column.distinct <= 12


def measures(dataset: DatasetContext) -> list[ColumnContext]:
    return [column for column in dataset.columns if is_measure(column, dataset.rows)]


def time_columns(dataset: DatasetContext) -> list[ColumnContext]:
    """Datetime columns first (the real time axis), then year-like numbers."""
    dated = [column for column in dataset.columns if column.kind == DATETIME]
    return dated + [column for column in dataset.columns if column.kind == NUMERIC and column.time_like]


def needs_datetime_parse(column: ColumnContext) -> bool:
    return column.kind == DATETIME


def is_integer_valued(column: ColumnContext) -> bool:
    if column.kind != NUMERIC or column.min is None or column.max is None:
        return False
    if column.dtype.startswith(("int", "uint")):
        return True
    samples = [value for value in column.samples if isinstance(value, (int, float))]
    return bool(samples) and all(float(value).is_integer() for value in samples)


# --- values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueMention:
    column: str
    value: object  # as stored
    start: int  # character offsets
    end: int


def known_values(column: ColumnContext) -> list[object]:
    values: list[object] = [item.get("value") for item in column.top_values]
    values += [value for value in column.samples if value not in values]
    return [value for value in values if isinstance(value, str) and value.strip()]


def value_form(word: str) -> str:
    """A word reduced so that "rainy days" finds the value "rain" and "sunny" finds "sun"."""
    word = singular(word.lower())
    if len(word) > 4 and word.endswith("y") and not word.endswith(("ey", "ay", "oy")):
        word = word[:-1]
        if word[-1] == word[-2]:
            word = word[:-1]
    return word


def find_values(text: str, dataset: DatasetContext) -> list[ValueMention]:
    """Values of category columns written in the question ("Europe", "rain", "furnished")."""
    tokens = tokens_of(text)
    bases = [value_form(token.word) for token in tokens]
    column_keys = {squash(column.name) for column in dataset.columns}
    candidates = []
    for column in dataset.columns:
        if column.kind not in (CATEGORICAL, BOOLEAN, TEXT):
            continue
        for value in known_values(column):
            words = [value_form(word) for word in split_words(value)]
            if (
                not words
                or value.strip().lower() in IGNORED_VALUES
                or len(value.strip()) < 3
                or all(word in STOPWORDS for word in words)
                or squash(value) in column_keys
            ):
                continue
            for start in range(len(tokens) - len(words) + 1):
                if bases[start : start + len(words)] == words:
                    candidates.append(
                        (
                            len(words),
                            ValueMention(column.name, value, tokens[start].start, tokens[start + len(words) - 1].end),
                        )
                    )
    candidates.sort(key=lambda item: (-item[0], item[1].start))
    chosen: list[ValueMention] = []
    for _, mention in candidates:
        if any(mention.start < other.end and other.start < mention.end for other in chosen):
            continue
        chosen.append(mention)
    chosen.sort(key=lambda m: m.start)
    return chosen


def label(column: str) -> str:
    """A column name in words for axis titles: ``lifeExp`` -> ``Life expectancy``."""
    words = [_LABEL_WORDS.get(word, word) for word in split_words(column)]
    text = " ".join(words) if words else column
    return text[:1].upper() + text[1:]


_LABEL_WORDS = {
    "exp": "expectancy",
    "pop": "population",
    "gdp": "GDP",
    "percap": "per capita",
    "temp": "temperature",
    "precip": "precipitation",
    "prcp": "precipitation",
    "num": "number",
    "pct": "percent",
    "qty": "quantity",
    "avg": "average",
    "iso": "ISO",
    "id": "ID",
}
