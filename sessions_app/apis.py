"""HTTP routes for analysis sessions, datasets and model settings (reference §1.2).

Views stay thin: parse input with a serializer, call a service or selector, shape the
output. Every session lookup goes through ``session_for_request``, which scopes it to
the caller.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from chats.selectors import chat_get_for_caller, client_fingerprint
from chats.services import user_id_assert_is_caller
from config.errors import ApplicationError, NotFoundError
from sessions_app import default_dataset
from sessions_app import serializers as s
from sessions_app.agents.context import dataset_context_compute
from sessions_app.agents.services import dataset_description_generate
from sessions_app.catalogue import MODELS, OFFLINE_PROVIDER, default_model, server_api_key
from sessions_app.dataset_names import clean_dataset_name
from sessions_app.ingest import (
    DatasetFormatError,
    detect_format,
    excel_sheet_names,
    parse_upload,
    preview_csv,
    read_excel,
)
from sessions_app.models import AnalysisSession, Dataset
from sessions_app.selectors import (
    SESSION_NOT_FOUND,
    dataset_described,
    dataset_get_for_session,
    dataset_rows,
    session_datasets,
    table_rows,
)
from sessions_app.services import (
    dataset_delete,
    dataset_file_profile,
    datasets_from_parsed,
    datasets_install,
    model_settings_update,
    preview_table,
    session_create,
    session_for_request,
    session_initialize,
    session_message_info_set,
    session_reset,
)

logger = logging.getLogger(__name__)

SESSION_PARAMETERS = [
    OpenApiParameter("X-Session-ID", str, OpenApiParameter.HEADER, required=False, description="Session id"),
    OpenApiParameter("session_id", str, OpenApiParameter.QUERY, required=False, description="Session id (fallback)"),
]
PREVIEW_ROWS = 10


def validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


SESSION_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def session_id_from(request: Request) -> str:
    value = (request.META.get("HTTP_X_SESSION_ID") or request.query_params.get("session_id") or "").strip()
    if not value:
        raise ApplicationError("Session ID required", code="session_required")
    if not SESSION_ID_SHAPE.fullmatch(value):
        raise NotFoundError(SESSION_NOT_FOUND, code="session_not_found")
    return value


def request_fingerprint(request: Request) -> str:
    """The caller's client fingerprint (see ``chats.selectors.client_fingerprint``)."""
    # The client's address as the rate limits see it (REMOTE_ADDR, or X-Forwarded-For
    # behind NUM_PROXIES trusted proxies).
    address = BaseThrottle().get_ident(request)
    return client_fingerprint(remote_addr=address, user_agent=request.META.get("HTTP_USER_AGENT", ""))


def request_sends_session(request: Request) -> bool:
    return bool((request.META.get("HTTP_X_SESSION_ID") or request.query_params.get("session_id") or "").strip())


class SessionAPIView(APIView):
    """Base for routes that act on the caller's analysis session."""

    def analysis_session(self) -> AnalysisSession:
        if not hasattr(self, "_analysis_session"):
            user_id_assert_is_caller(user=self.request.user, user_id=self.request.query_params.get("user_id"))
            self._analysis_session = session_for_request(
                session_id=session_id_from(self.request), user=self.request.user
            )
        return self._analysis_session


@contextmanager
def uploaded_path(upload) -> Iterator[Path]:
    """A filesystem path for an uploaded file (large ones already live in a temp file)."""
    if hasattr(upload, "temporary_file_path"):
        yield Path(upload.temporary_file_path())
        return
    with tempfile.NamedTemporaryFile(prefix="analyst-upload-") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
        handle.flush()
        yield Path(handle.name)


def preview_body(*, headers: list[str], rows: list[list], name: str, description: str) -> dict:
    return {"headers": headers, "rows": rows, "name": name, "description": description}


# --- sessions ----------------------------------------------------------------------------


class GenerateSessionApi(APIView):
    @extend_schema(request=None, responses=s.GenerateSessionOut, tags=["sessions"])
    def post(self, request: Request) -> Response:
        session = session_create(user=request.user)
        return Response({"session_id": session.pk, "message": "Session created successfully"})


class InitializeSessionApi(APIView):
    @extend_schema(request=s.InitializeSessionIn, responses=s.InitializeSessionOut, tags=["sessions"])
    def post(self, request: Request) -> Response:
        """Initialize the body's session (created first when it is a new client-chosen id).

        ``user_id`` 0, null or absent means an anonymous session. The web frontend may send
        a different, earlier id in ``X-Session-ID`` (two concurrent first calls): that one
        is the id it goes on using, so it is made to exist too.
        """
        data = validated(s.InitializeSessionIn, request.data)
        user_id_assert_is_caller(user=request.user, user_id=data.get("user_id") or None)
        session = session_initialize(
            session_id=data["session_id"], user=request.user, email=data["user_email"], name=data["user_name"]
        )
        header_id = (request.META.get("HTTP_X_SESSION_ID") or "").strip()
        if header_id and header_id != session.pk:
            session_for_request(session_id=session_id_from(request), user=request.user)
        return Response(
            {
                "status": "success",
                "session_id": session.pk,
                "message": "Session initialized successfully",
                "user_id": session.user_id,
            }
        )


class SessionInfoApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.SessionInfoOut, tags=["sessions"])
    def get(self, request: Request) -> Response:
        session = self.analysis_session()
        datasets = session_datasets(session=session)
        keys = ["datasets", "dataset_names", "name", "description", "model_config", "creation_time", "last_accessed"]
        optional = {
            "user_id": session.user_id,
            "chat_id": session.current_chat_id,
            "current_message_id": session.current_message_id,
            "user_email": session.user_email,
            "user_name": session.user_name,
            "initialized_at": session.initialized_at,
        }
        keys += [key for key, value in optional.items() if value]
        return Response(
            {
                "session_id": session.pk,
                "is_custom_dataset": any(d.source != Dataset.Source.DEFAULT for d in datasets),
                "dataset_name": datasets[0].display_name if datasets else "",
                "dataset_description": "\n\n".join(dataset_described(d) for d in datasets),
                "default_name": default_dataset.DISPLAY_NAME,
                "has_session": True,
                "session_keys": keys,
                "user_id": session.user_id,
                "datasets": s.DatasetOut(datasets, many=True).data,
            }
        )


class ResetSessionApi(SessionAPIView):
    @extend_schema(
        parameters=SESSION_PARAMETERS, request=s.ResetSessionIn, responses=s.ResetSessionOut, tags=["sessions"]
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        embedded = body.get("request_data")
        data = validated(s.ResetSessionIn, embedded if isinstance(embedded, dict) else body)
        description = data.get("description") or request.query_params.get("description") or ""
        session = self.analysis_session()
        session_reset(session=session, preserve_model_settings=data["preserveModelSettings"], description=description)
        return Response(
            {
                "message": "Session reset to default dataset",
                "session_id": session.pk,
                "dataset": default_dataset.DISPLAY_NAME,
                "model_settings_preserved": data["preserveModelSettings"],
            }
        )


class SetMessageInfoApi(SessionAPIView):
    @extend_schema(
        parameters=SESSION_PARAMETERS, request=s.SetMessageInfoIn, responses=s.SetMessageInfoOut, tags=["sessions"]
    )
    def post(self, request: Request) -> Response:
        data = validated(s.SetMessageInfoIn, request.data)
        user_id_assert_is_caller(user=request.user, user_id=data.get("user_id"))
        session = self.analysis_session()
        chat_id = data.get("chat_id")
        if chat_id is not None:
            # Only a chat the caller owns can be bound: answers, usage and code runs go to it.
            chat_get_for_caller(chat_id=chat_id, user=request.user, session_id=session.pk)
        session_message_info_set(session=session, chat_id=chat_id, message_id=data.get("message_id"))
        return Response(
            {
                "success": True,
                "session_id": session.pk,
                "message_id": session.current_message_id,
                "chat_id": session.current_chat_id,
                "user_id": session.user_id,
            }
        )


# --- uploads and previews -------------------------------------------------------------------


class PreviewCsvUploadApi(APIView):
    @extend_schema(request={"multipart/form-data": s.FileIn}, responses=s.PreviewOut, tags=["datasets"])
    def post(self, request: Request) -> Response:
        upload = validated(s.FileIn, request.data)["file"]
        with uploaded_path(upload) as path:
            if detect_format(path) == "csv":
                table = preview_csv(path, max_rows=PREVIEW_ROWS)
            else:
                _, parsed = parse_upload(path, display_name=upload.name)
                table = parsed[0].table.slice(0, PREVIEW_ROWS)
        stem = upload.name[:-4] if upload.name.lower().endswith(".csv") else upload.name
        name = clean_dataset_name(stem).lower()
        return Response(
            preview_body(
                headers=table.column_names,
                rows=table_rows(table),
                name=name,
                description=f" exact_python_name: `{name}` Dataset: {upload.name}",
            )
        )


PREVIEW_NOTE = (
    "Described from a preview sample of the first {rows} rows, not the whole file: "
    "counts, ranges and means below are the sample's."
)
PREVIEW_NOTE_PATTERN = re.compile(
    r"Described from a preview sample of the first (\d+) rows, not the whole file: "
    r"counts, ranges and means below are the sample's\."
)
# Told to a language model with the preview, so it does not take the sample for the data.
PREVIEW_HINT = (
    "The data shown is only a preview: the first {rows} rows of a larger file. Describe what the columns "
    "mean; do not state a row count, and do not present the sample's ranges, means or counts as the dataset's."
)


def preview_description_settled(description: str, *, rows: int, columns: int) -> str:
    """An accepted preview description, its sample note restated with the real shape."""

    def restate(match: re.Match) -> str:
        return (
            f"Written from a preview of the first {match.group(1)} rows; the dataset has {rows:,} rows and "
            f"{columns} columns, so counts, ranges and means below are the sample's, not the dataset's."
        )

    return PREVIEW_NOTE_PATTERN.sub(restate, description, count=1)


class DescriptionFromPreviewApi(SessionAPIView):
    @extend_schema(
        parameters=SESSION_PARAMETERS, request=s.DescriptionFromPreviewIn, responses=s.DescriptionOut, tags=["datasets"]
    )
    def post(self, request: Request) -> Response:
        """``dataset_description_agent`` on the preview, with the session's model when a
        session is sent, else the server's default model.

        The rows are a sample (the frontend sends the 10 preview rows), so the text says
        so; an upload that keeps the text restates the note with the real row count.
        """
        data = validated(s.DescriptionFromPreviewIn, request.data)
        session = self.analysis_session() if request_sends_session(request) else None
        name = clean_dataset_name(data["name"] or "dataset")
        sample = preview_table(headers=data["headers"], rows=data["rows"])
        context = dataset_context_compute(name=name, description="", table=sample)
        hint = PREVIEW_HINT.format(rows=sample.num_rows)
        existing = f"{data['description']}\n{hint}" if data["description"].strip() else hint
        text = dataset_description_generate(session=session, user=request.user, contexts=[context], existing=existing)
        # A describer that repeats its input (the offline one does) must not repeat the hint;
        # and it states the shape it saw, which was a sample.
        text = text.replace("\n" + hint, "").replace(hint, "").strip()
        text = re.sub(rf"\b{sample.num_rows} rows\b", f"{sample.num_rows} sample rows", text, count=1)
        note = PREVIEW_NOTE.format(rows=sample.num_rows)
        return Response({"description": f" exact_python_name: `{name}` Dataset: {note}\n{text}"})


class UploadDataframeApi(SessionAPIView):
    @extend_schema(
        parameters=[
            *SESSION_PARAMETERS,
            OpenApiParameter("X-Force-Refresh", str, OpenApiParameter.HEADER, required=False),
        ],
        request={"multipart/form-data": s.UploadDataframeIn},
        responses=s.UploadDataframeOut,
        tags=["datasets"],
    )
    def post(self, request: Request) -> Response:
        data = validated(s.UploadDataframeIn, request.data)
        session = self.analysis_session()
        upload = data["file"]
        with uploaded_path(upload) as path:
            kind, parsed = parse_upload(path, display_name=upload.name, columns=data["columns"])
        table = parsed[0].table
        description = preview_description_settled(data["description"], rows=table.num_rows, columns=table.num_columns)
        new = datasets_from_parsed(
            parsed=parsed, source=kind, names=[data["name"] or upload.name], description=description
        )
        replace = data["mode"] == "replace" or _force_refresh(request)
        (dataset,) = datasets_install(session=session, new=new, replace=replace)
        return Response(
            {
                "message": "Dataframe uploaded successfully",
                "session_id": session.pk,
                "rows": dataset.file.n_rows,
                "columns": dataset.file.n_cols,
                "name": dataset.name,
            }
        )


def _force_refresh(request: Request) -> bool:
    return request.META.get("HTTP_X_FORCE_REFRESH", "").strip().lower() in ("1", "true", "yes")


def _require_excel(path: Path) -> None:
    if detect_format(path) != "excel":
        raise DatasetFormatError("This is not an Excel workbook (.xlsx, .xls, .xlsb or .ods).", code="not_excel")


class ExcelSheetsApi(SessionAPIView):
    @extend_schema(
        parameters=SESSION_PARAMETERS,
        request={"multipart/form-data": s.FileIn},
        responses=s.ExcelSheetsOut,
        tags=["datasets"],
    )
    def post(self, request: Request) -> Response:
        self.analysis_session()
        upload = validated(s.FileIn, request.data)["file"]
        with uploaded_path(upload) as path:
            _require_excel(path)
            sheets = excel_sheet_names(path)
        return Response({"sheets": sheets})


class UploadExcelApi(SessionAPIView):
    @extend_schema(
        parameters=SESSION_PARAMETERS,
        request={"multipart/form-data": s.UploadExcelIn},
        responses=s.UploadExcelOut,
        tags=["datasets"],
    )
    def post(self, request: Request) -> Response:
        data = validated(s.UploadExcelIn, request.data)
        session = self.analysis_session()
        with uploaded_path(data["file"]) as path:
            _require_excel(path)
            parsed = read_excel(path, sheets=data["selected_sheets"])
        description = data["description"]
        if not description.strip():
            # As the reference: a description for one sheet, a joint context for several.
            contexts = [
                dataset_context_compute(name=clean_dataset_name(p.name), description="", table=p.table) for p in parsed
            ]
            try:
                description = dataset_description_generate(session=session, user=request.user, contexts=contexts)
            except ApplicationError as error:
                # The description is a courtesy: a provider failure must not lose the upload.
                logger.warning("describing an Excel upload failed: %s", error.code)
                description = ""
        new = datasets_from_parsed(
            parsed=parsed, source=Dataset.Source.EXCEL, names=[p.name for p in parsed], description=description
        )
        created = datasets_install(
            session=session, new=new, replace=data["mode"] == "replace" or _force_refresh(request)
        )
        return Response(
            {
                "message": "Excel file processed successfully",
                "session_id": session.pk,
                "sheets_processed": [p.name for p in parsed],
                "total_sheets": len(parsed),
                "datasets": [d.name for d in created],
            }
        )


class DefaultDatasetApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.PreviewOut, tags=["datasets"])
    def get(self, request: Request) -> Response:
        session = self.analysis_session()
        dataset = session.datasets.select_related("file").filter(name=default_dataset.NAME).first()
        if dataset is not None:
            table = dataset_rows(dataset_file=dataset.file, offset=0, limit=PREVIEW_ROWS)
            name = "Gapminder Dataset" if dataset.source == Dataset.Source.DEFAULT else dataset.display_name
            description = dataset_described(dataset)
        else:
            table = default_dataset.load_table().slice(0, PREVIEW_ROWS)
            name = "Gapminder Dataset"
            description = f" exact_python_name: `{default_dataset.NAME}` Dataset: {default_dataset.DESCRIPTION}"
        return Response(
            preview_body(headers=table.column_names, rows=table_rows(table), name=name, description=description)
        )


# --- datasets of the session ----------------------------------------------------------------


class DatasetListApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.DatasetListOut, tags=["datasets"])
    def get(self, request: Request) -> Response:
        datasets = session_datasets(session=self.analysis_session())
        return Response({"datasets": s.DatasetOut(datasets, many=True).data})


class DatasetDetailApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.DatasetOut, tags=["datasets"])
    def get(self, request: Request, name: str) -> Response:
        dataset = dataset_get_for_session(session=self.analysis_session(), name=name)
        return Response(s.DatasetOut(dataset).data)

    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.MessageOut, tags=["datasets"])
    def delete(self, request: Request, name: str) -> Response:
        dataset = dataset_get_for_session(session=self.analysis_session(), name=name)
        dataset_delete(dataset=dataset)
        return Response({"message": f"Dataset {name} removed from the session"})


class DatasetRowsApi(SessionAPIView):
    @extend_schema(
        parameters=[*SESSION_PARAMETERS, s.RowsQueryIn],
        responses=s.RowsOut,
        tags=["datasets"],
    )
    def get(self, request: Request, name: str) -> Response:
        query = validated(s.RowsQueryIn, request.query_params)
        dataset = dataset_get_for_session(session=self.analysis_session(), name=name)
        table = dataset_rows(dataset_file=dataset.file, offset=query["offset"], limit=query["limit"])
        return Response(
            {
                "name": dataset.name,
                "offset": query["offset"],
                "limit": query["limit"],
                "total_rows": dataset.file.n_rows,
                "headers": [column["name"] for column in dataset.file.columns],
                "rows": table_rows(table),
            }
        )


class DatasetProfileApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.ProfileOut, tags=["datasets"])
    def get(self, request: Request, name: str) -> Response:
        dataset = dataset_get_for_session(session=self.analysis_session(), name=name)
        profile = dataset_file_profile(dataset_file=dataset.file)
        return Response({"name": dataset.name, "rows": dataset.file.n_rows, "columns": profile})


# --- model settings ------------------------------------------------------------------------


class ModelSettingsApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.ModelSettingsOut, tags=["models"])
    def get(self, request: Request) -> Response:
        session = self.analysis_session()
        return Response(
            {
                "provider": session.model_provider,
                "model": session.model_name,
                "hasCustomKey": bool(session.api_key_encrypted),
                "temperature": session.temperature,
                "maxTokens": session.max_tokens,
            }
        )


class ModelSettingsUpdateApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, request=s.ModelSettingsIn, responses=s.MessageOut, tags=["models"])
    def post(self, request: Request) -> Response:
        data = validated(s.ModelSettingsIn, request.data)
        model_settings_update(session=self.analysis_session(), **data)
        return Response({"message": "Model settings updated successfully"})


class ModelCatalogueApi(APIView):
    @extend_schema(responses=s.CatalogueOut, tags=["models"])
    def get(self, request: Request) -> Response:
        def entry(model) -> dict:
            available = model.provider == OFFLINE_PROVIDER or bool(server_api_key(model.provider))
            return {**model.as_dict(), "available": available}

        return Response({"default": entry(default_model()), "models": [entry(model) for model in MODELS]})
