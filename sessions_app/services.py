"""Writes for sessions, datasets and model settings."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from codeexec.client import DatasetInput, SavedDataset
from config.errors import ApplicationError
from sessions_app import default_dataset
from sessions_app.catalogue import (
    MODELS,
    PROVIDERS,
    SELF_HOSTED,
    apply_safeguards,
    default_model,
    model_lookup,
    provider_base_url,
    provider_ready,
)
from sessions_app.crypto import secret_encrypt
from sessions_app.dataset_names import clean_dataset_name, unique_dataset_name
from sessions_app.ingest import (
    DatasetFormatError,
    DecodedTooLargeError,
    ParsedTable,
    normalise_table,
    read_parquet,
    unique_column_names,
)
from sessions_app.models import CLIENT_SESSION_ID_SHAPE, AnalysisSession, Dataset, DatasetFile
from sessions_app.selectors import (
    json_safe,
    parquet_open,
    session_datasets,
    session_get_for_user,
    session_idle_cutoff,
)
from templates.models import UserTemplatePreference

logger = logging.getLogger(__name__)

ROW_GROUP_SIZE = 16_384
# Writing last_accessed_at on every request would make every read a write.
TOUCH_INTERVAL = timedelta(seconds=60)


# --- dataset files -----------------------------------------------------------------------


def dataset_file_store(*, table: pa.Table) -> DatasetFile:
    """Write ``table`` as Parquet once, named by its SHA-256; reuse an identical file."""
    with tempfile.TemporaryDirectory(prefix="analyst-parquet-") as scratch:
        path = Path(scratch) / "data.parquet"
        # Snappy and dictionaries only for text columns: the fastest encoding to write and
        # to read back (measured in bench/), at a modestly larger file than zstd.
        text_columns = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        pq.write_table(table, path, compression="snappy", use_dictionary=text_columns, row_group_size=ROW_GROUP_SIZE)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        sha256 = digest.hexdigest()
        existing = DatasetFile.objects.filter(pk=sha256).first()
        if existing is not None and default_storage.exists(existing.storage_name):
            return existing
        storage_name = f"datasets/{sha256[:2]}/{sha256}.parquet"
        if not default_storage.exists(storage_name):
            with open(path, "rb") as handle:
                saved_as = default_storage.save(storage_name, File(handle))
            if saved_as != storage_name:  # a concurrent upload of the same content won
                default_storage.delete(saved_as)
        size = path.stat().st_size
    columns = [{"name": field.name, "dtype": str(field.type)} for field in table.schema]
    dataset_file, _ = DatasetFile.objects.get_or_create(
        pk=sha256,
        defaults={
            "storage_name": storage_name,
            "size_bytes": size,
            "n_rows": table.num_rows,
            "n_cols": table.num_columns,
            "columns": columns,
        },
    )
    return dataset_file


def default_dataset_file_get() -> DatasetFile:
    cache_key = "sessions_app:default-dataset-sha256"
    sha256 = cache.get(cache_key)
    if sha256:
        existing = DatasetFile.objects.filter(pk=sha256).first()
        if existing is not None:
            return existing
    dataset_file = dataset_file_store(table=default_dataset.load_table())
    cache.set(cache_key, dataset_file.pk, timeout=None)
    return dataset_file


def _default_dataset_create(*, session: AnalysisSession, description: str = "") -> Dataset:
    return Dataset.objects.create(
        session=session,
        name=default_dataset.NAME,
        display_name=default_dataset.DISPLAY_NAME,
        description=description or default_dataset.DESCRIPTION,
        source=Dataset.Source.DEFAULT,
        file=default_dataset_file_get(),
        position=0,
    )


# --- sessions ----------------------------------------------------------------------------


def session_model_defaults() -> dict:
    entry = default_model()
    temperature, max_tokens = apply_safeguards(
        provider=entry.provider,
        model=entry.model,
        temperature=settings.MODEL_TEMPERATURE,
        max_tokens=settings.MODEL_MAX_TOKENS,
    )
    return {
        "model_provider": entry.provider,
        "model_name": entry.model,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "api_key_encrypted": "",
    }


@transaction.atomic
def session_create(*, user=None, session_id: str | None = None) -> AnalysisSession:
    """A new session with the default dataset, owned by ``user`` when authenticated.

    ``session_id`` is a client-chosen id (see :func:`client_session_id_acceptable`);
    None lets the server pick an unguessable one.
    """
    owner = user if user is not None and user.is_authenticated else None
    extra = {"pk": session_id} if session_id else {}
    session = AnalysisSession.objects.create(user=owner, **extra, **session_model_defaults())
    _default_dataset_create(session=session)
    return session


def client_session_id_acceptable(session_id: str) -> bool:
    """Whether an unknown id may be created on first use (settings.CLIENT_SESSION_IDS)."""
    return settings.CLIENT_SESSION_IDS and CLIENT_SESSION_ID_SHAPE.fullmatch(session_id) is not None


def _session_create_on_first_use(*, session_id: str, user) -> None:
    """Create the client-chosen session ``session_id`` unless a live one exists.

    An expired row with that id is replaced when nobody or the caller owns it; one a
    different user owns is left alone (the lookup that follows answers 404). Two first
    uses racing both end up with the one row the first of them created.
    """
    stale = AnalysisSession.objects.filter(pk=session_id).values("user_id", "last_accessed_at").first()
    if stale is not None:
        live = stale["last_accessed_at"] >= session_idle_cutoff()
        mine = stale["user_id"] is None or (user.is_authenticated and stale["user_id"] == user.pk)
        if live or not mine:
            return
        AnalysisSession.objects.filter(pk=session_id, last_accessed_at__lt=session_idle_cutoff()).delete()
        UserTemplatePreference.objects.filter(user__isnull=True, session_id=session_id).delete()
    try:
        with transaction.atomic():
            session_create(user=user, session_id=session_id)
    except IntegrityError:
        pass  # a concurrent first use created it: the lookup that follows finds that row


def session_for_request(*, session_id: str, user) -> AnalysisSession:
    """Resolve the caller's session, binding an unbound one to an authenticated caller.

    With client-chosen ids on, a well-formed id that names no live session is created
    for the caller first (the frontend uses its ids before, or without, initializing them).
    """
    if client_session_id_acceptable(session_id):
        _session_create_on_first_use(session_id=session_id, user=user)
    session = session_get_for_user(session_id=session_id, user=user)
    now = timezone.now()
    updates: dict = {}
    if session.user_id is None and user.is_authenticated:
        updates["user"] = user
    if now - session.last_accessed_at > TOUCH_INTERVAL:
        updates["last_accessed_at"] = now
    if updates:
        # Filtered on user__isnull so two first requests racing cannot both bind.
        query = AnalysisSession.objects.filter(pk=session.pk)
        if "user" in updates:
            query = query.filter(user__isnull=True)
        query.update(**updates)
        session.refresh_from_db()
        if session.user_id is not None and session.user_id != getattr(user, "pk", None):
            return session_get_for_user(session_id=session_id, user=user)
    return session


@transaction.atomic
def session_initialize(*, session_id: str, user, email: str, name: str) -> AnalysisSession:
    session = session_for_request(session_id=session_id, user=user)
    session.user_email = email[:255]
    session.user_name = name[:255]
    session.initialized_at = timezone.now()
    session.save(update_fields=["user_email", "user_name", "initialized_at"])
    return session


@transaction.atomic
def session_reset(*, session: AnalysisSession, preserve_model_settings: bool, description: str = "") -> None:
    """Back to the default dataset only; the user binding always survives (unlike the reference)."""
    AnalysisSession.objects.select_for_update().filter(pk=session.pk).first()
    session.datasets.all().delete()
    _default_dataset_create(session=session, description=description)
    if not preserve_model_settings:
        for field, value in session_model_defaults().items():
            setattr(session, field, value)
        session.save(update_fields=list(session_model_defaults()))


def session_message_info_set(*, session: AnalysisSession, chat_id: int | None, message_id: int | None) -> None:
    fields = []
    if chat_id is not None:
        session.current_chat_id = chat_id
        fields.append("current_chat_id")
    if message_id is not None:
        session.current_message_id = message_id
        fields.append("current_message_id")
    if fields:
        session.save(update_fields=fields)


def sessions_cleanup(*, orphan_grace: timedelta = timedelta(hours=1)) -> tuple[int, int]:
    """Delete idle sessions, then Parquet files no dataset references any more.

    Files younger than ``orphan_grace`` are kept: an upload in flight has written its
    file but not yet committed the row that references it. Each file is re-checked inside
    its own transaction, and its bytes are deleted only after that commits, so an upload
    that reuses the file concurrently either sees it intact or re-creates it.
    """
    _, deleted = AnalysisSession.objects.filter(last_accessed_at__lt=session_idle_cutoff()).delete()
    expired = deleted.get(AnalysisSession._meta.label, 0)
    # Anonymous sessions' template choices name their session by id, not by foreign key.
    UserTemplatePreference.objects.filter(user__isnull=True).exclude(
        session_id__in=AnalysisSession.objects.values("pk")
    ).delete()
    default_sha = default_dataset_file_get().pk
    candidates = (
        DatasetFile.objects.annotate(uses=Count("datasets"))
        .filter(uses=0, created_at__lt=timezone.now() - orphan_grace)
        .exclude(pk=default_sha)
        .values_list("pk", flat=True)
    )
    removed = 0
    for sha256 in list(candidates):
        with transaction.atomic():
            dataset_file = DatasetFile.objects.select_for_update().filter(pk=sha256).first()
            if dataset_file is None or dataset_file.datasets.exists():
                continue
            storage_name = dataset_file.storage_name
            dataset_file.delete()
            transaction.on_commit(lambda name=storage_name: default_storage.delete(name))
        removed += 1
    return expired, removed


# --- datasets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewDataset:
    name: str
    display_name: str
    description: str
    source: str
    table: pa.Table


def describe_table(*, name: str, table: pa.Table) -> str:
    """A deterministic description from the schema, used when the user gives none."""
    columns = ", ".join(f"{field.name} ({field.type})" for field in table.schema)
    return f"Table `{name}` with {table.num_rows} rows and {table.num_columns} columns: {columns}."


def datasets_from_parsed(
    *, parsed: list[ParsedTable], source: str, names: list[str], description: str
) -> list[NewDataset]:
    taken: set[str] = set()
    result = []
    for parsed_table, raw_name in zip(parsed, names, strict=True):
        name = unique_dataset_name(clean_dataset_name(raw_name), taken)
        taken.add(name)
        result.append(
            NewDataset(
                name=name,
                display_name=parsed_table.name,
                description=description.strip() or describe_table(name=name, table=parsed_table.table),
                source=source,
                table=parsed_table.table,
            )
        )
    return result


def datasets_install(*, session: AnalysisSession, new: list[NewDataset], replace: bool) -> list[Dataset]:
    """Store the files, then swap the session's datasets in one transaction.

    Files are written before the transaction; if it fails, the session keeps its previous
    datasets and the unreferenced files are collected by ``sessions_cleanup``.
    """
    files = [dataset_file_store(table=item.table) for item in new]
    with transaction.atomic():
        AnalysisSession.objects.select_for_update().filter(pk=session.pk).first()
        # Lock the file rows; one removed by a concurrent cleanup is stored again.
        present = set(
            DatasetFile.objects.select_for_update().filter(pk__in=[f.pk for f in files]).values_list("pk", flat=True)
        )
        files = [
            f if f.pk in present else dataset_file_store(table=item.table) for f, item in zip(files, new, strict=True)
        ]
        if replace:
            session.datasets.all().delete()
        else:
            session.datasets.filter(name__in=[item.name for item in new]).delete()
        position = (session.datasets.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        created = [
            Dataset.objects.create(
                session=session,
                name=item.name,
                display_name=item.display_name[:255],
                description=item.description,
                source=item.source,
                file=dataset_file,
                position=position + index,
            )
            for index, (item, dataset_file) in enumerate(zip(new, files, strict=True))
        ]
    return created


@transaction.atomic
def dataset_delete(*, dataset: Dataset) -> None:
    dataset.delete()


def dataset_file_profile(*, dataset_file: DatasetFile) -> list[dict]:
    """Per-column statistics, computed on first request and stored with the file."""
    if dataset_file.profile is not None:
        return dataset_file.profile
    with parquet_open(dataset_file) as parquet:
        table = parquet.read()
    profile = [_column_profile(name, table.column(name)) for name in table.column_names]
    DatasetFile.objects.filter(pk=dataset_file.pk).update(profile=profile)
    dataset_file.profile = profile
    return profile


def _column_profile(name: str, column: pa.ChunkedArray) -> dict:
    """Statistics for one column; a statistic Arrow cannot compute for a type is left out."""
    kind = column.type
    entry: dict = {"name": name, "dtype": str(kind), "nulls": column.null_count}

    def attempt(key: str, compute) -> None:
        with contextlib.suppress(pa.ArrowException, OverflowError, ValueError):
            entry[key] = compute()

    attempt("distinct", lambda: pc.count_distinct(column, mode="only_valid").as_py())
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        attempt("min", lambda: json_safe(pc.min_max(column)["min"].as_py()))
        attempt("max", lambda: json_safe(pc.min_max(column)["max"].as_py()))
        attempt("mean", lambda: json_safe(pc.mean(column).as_py()))
        valid = len(column) - column.null_count
        attempt("std", lambda: json_safe(pc.stddev(column, ddof=1).as_py()) if valid > 1 else None)
    elif pa.types.is_temporal(kind):
        # Out-of-range dates cannot become Python objects; their text form always works.
        comparable = column.cast(pa.int64()) if pa.types.is_duration(kind) else column
        for key in ("min", "max"):
            attempt(key, lambda key=key: json_safe(pc.min_max(comparable)[key].as_py()))
            if key not in entry:
                attempt(key, lambda key=key: pc.min_max(comparable)[key].cast(pa.string()).as_py())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind):

        def top_values() -> list[dict]:
            counts = pc.value_counts(column.drop_null() if column.null_count else column)
            ordered = sorted(counts.to_pylist(), key=lambda item: (-item["counts"], str(item["values"])))
            return [{"value": json_safe(i["values"]), "count": i["counts"]} for i in ordered[:5]]

        attempt("top_values", top_values)
    return entry


# --- model settings ----------------------------------------------------------------------


def model_settings_update(
    *, session: AnalysisSession, provider: str, model: str, api_key: str, temperature: float, max_tokens: int
) -> AnalysisSession:
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise ApplicationError(
            f"Unknown provider {provider!r}. Choose one of: {', '.join(PROVIDERS)}.", code="unknown_provider"
        )
    entry = model_lookup(provider=provider, model=model.strip())
    if entry is None:
        known = ", ".join(e.model for e in MODELS if e.provider == provider)
        raise ApplicationError(
            f"Unknown model {model!r} for provider {provider!r}. Models: {known}.", code="unknown_model"
        )
    api_key = api_key.strip()
    # No key in the request keeps the session's own key for the same provider, so that
    # changing the temperature does not silently move a user onto the server's key.
    keep_stored = not api_key and provider == session.model_provider and bool(session.api_key_encrypted)
    if provider in SELF_HOSTED and not provider_base_url(provider):
        raise ApplicationError(
            f"The {provider} provider is not configured: set {SELF_HOSTED[provider][0]} on the server.",
            code="provider_not_configured",
        )
    if provider not in SELF_HOSTED and not api_key and not keep_stored and not provider_ready(provider):
        raise ApplicationError(
            f"No API key for {provider}: send api_key, or set {provider.upper()}_API_KEY on the server.",
            code="missing_api_key",
        )
    if max_tokens < 1:
        raise ApplicationError("max_tokens must be at least 1.", code="invalid")
    temperature, max_tokens = apply_safeguards(
        provider=provider, model=entry.model, temperature=temperature, max_tokens=max_tokens
    )
    session.model_provider = provider
    session.model_name = entry.model
    session.temperature = temperature
    session.max_tokens = max_tokens
    if not keep_stored:
        session.api_key_encrypted = secret_encrypt(api_key) if api_key else ""
    session.save(update_fields=["model_provider", "model_name", "temperature", "max_tokens", "api_key_encrypted"])
    return session


def preview_table(*, headers: list[str], rows: list[list]) -> pa.Table:
    """A typed table from preview rows: each column numeric, else date/time, else text."""
    names = unique_column_names(headers)
    width = len(names)
    padded = [list(row[:width]) + [None] * (width - len(row)) for row in rows]
    columns = {}
    for index, name in enumerate(names):
        values = pd.Series([row[index] for row in padded], dtype=object)
        present = values.dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        if len(present) and numbers[present.index].notna().all():
            columns[name] = numbers
            continue
        try:
            dates = pd.to_datetime(values.astype("string"), errors="coerce", format="ISO8601", utc=True)
        except (ValueError, OverflowError, TypeError):
            dates = None
        if dates is not None and len(present) and dates[present.index].notna().all():
            columns[name] = dates
            continue
        columns[name] = values.map(lambda value: None if value is None else str(value)).astype("string")
    frame = pd.DataFrame(columns, columns=names) if columns else pd.DataFrame(index=range(len(padded)))
    return normalise_table(pa.Table.from_pandas(frame, preserve_index=False))


# --- the sandbox's view of the session ------------------------------------------------------


def dataset_local_path(*, dataset_file: DatasetFile) -> str:
    """A local filesystem path of the Parquet file, copied once from remote storage if needed."""
    try:
        return default_storage.path(dataset_file.storage_name)
    except NotImplementedError:
        cache_path = Path(settings.DATA_DIR) / "dataset-cache" / f"{dataset_file.sha256}.parquet"
        if not cache_path.exists():
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            partial = cache_path.with_suffix(".partial")
            with default_storage.open(dataset_file.storage_name, "rb") as source, open(partial, "wb") as target:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    target.write(chunk)
            partial.rename(cache_path)
        return str(cache_path)


def session_dataset_inputs(*, session: AnalysisSession) -> list[DatasetInput]:
    return [
        DatasetInput(name=dataset.name, path=dataset_local_path(dataset_file=dataset.file))
        for dataset in session_datasets(session=session)
    ]


def datasets_save_from_sandbox(*, session: AnalysisSession, saved: list[SavedDataset]) -> list[Dataset]:
    """Datasets the code kept with ``save_dataset(frame, name)`` join the session."""
    if not saved:
        return []
    new = []
    names: set[str] = set()
    for item in saved:
        name = clean_dataset_name(item.name)
        if name in names:  # the sandbox refuses a name twice in one run; never store it twice
            continue
        # The child wrote this Parquet: it is untrusted input, decoded within MAX_DECODED_MB
        # (a 413 before anything is stored) like an upload.
        try:
            table = read_parquet(pa.BufferReader(item.data))
        except DecodedTooLargeError as error:
            raise DecodedTooLargeError(
                f"The dataset {name!r} saved by the code is too large to keep: "
                f"{error.message}"
            ) from None
        except DatasetFormatError:
            continue
        names.add(name)
        new.append(
            NewDataset(
                name=name,
                display_name=f"{name} (derived)",
                description=item.description or describe_table(name=name, table=table),
                source=Dataset.Source.DERIVED,
                table=table,
            )
        )
    return datasets_install(session=session, new=new, replace=False)
