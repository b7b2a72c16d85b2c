"""Deep-analysis routes (reference §1.6): start a run and stream it, cancel it, replay
its events, and the report routes. Every report is fetched through
``report_get_for_caller``: the caller's own, or their anonymous session's; anything
else is a 404."""

from __future__ import annotations

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats.services import user_id_assert_is_caller
from config.errors import ApplicationError
from deep_analysis import jobs, services
from deep_analysis import serializers as s
from deep_analysis.report_html import plotly_js, report_html_document, report_html_render
from deep_analysis.selectors import report_get_for_caller, reports_for_caller
from deep_analysis.streaming import report_event_lines
from sessions_app.apis import SESSION_PARAMETERS, SessionAPIView, validated

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
CALLER_PARAMETERS = [
    *SESSION_PARAMETERS,
    OpenApiParameter("user_id", int, OpenApiParameter.QUERY, required=False, description="Must be the caller"),
]
TAGS = ["deep analysis"]


def _filename() -> str:
    return f"deep_analysis_report_{timezone.now().strftime('%Y%m%d_%H%M%S')}.html"


def _attachment(html: str) -> HttpResponse:
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename()}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class DeepAnalysisAPIView(SessionAPIView):
    """Identifies the caller: an authenticated user (a session is optional), or the
    holder of an anonymous analysis session (required)."""

    def caller_session_id(self) -> str | None:
        request = self.request
        user_id_assert_is_caller(user=request.user, user_id=request.query_params.get("user_id"))
        sent = (request.META.get("HTTP_X_SESSION_ID") or request.query_params.get("session_id") or "").strip()
        if request.user.is_authenticated and not sent:
            return None
        return self.analysis_session().pk

    def caller_report(self, report_id: str):
        session_id = self.caller_session_id()
        services.report_orphans_fail()
        report = report_get_for_caller(user=self.request.user, session_id=session_id, report_id=report_id)
        return report

    def caller_report_or_alias(self, report_id: str):
        """As caller_report, and the frontend's own ``report_<ms>`` id of a fresh run."""
        try:
            return self.caller_report(report_id)
        except ApplicationError:
            alias = services.report_client_alias(
                user=self.request.user, session_id=self.caller_session_id(), client_id=report_id
            )
            if alias is None:
                raise
            return alias


class DeepAnalysisStreamingApi(DeepAnalysisAPIView):
    @extend_schema(
        parameters=CALLER_PARAMETERS,
        request=s.GoalIn,
        responses={(200, "application/x-ndjson"): s.StreamEventOut},
        tags=TAGS,
        description="Starts a deep analysis as a background job and streams its events as NDJSON: step lines "
        "(`step`, `status`, `progress`, `message`), then one final line: `step: completed` with `analysis` and "
        "`html_report`, or `type: error` with `error`. Every line has a `sequence`. Disconnecting does not stop "
        "the run; cancel it with `POST /deep_analysis/reports/{report_uuid}/cancel`.",
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        goal = validated(s.GoalIn, request.data)["goal"]
        session = self.analysis_session()
        if not session.datasets.exists():
            raise ApplicationError(
                "No dataset is currently loaded. Upload one or reset the session.", code="no_dataset"
            )
        report = services.report_start(
            user=request.user,
            session_id=session.pk,
            goal=goal,
            model_provider=session.model_provider,
            model_name=session.model_name,
        )
        jobs.job_submit(report.pk)
        response = StreamingHttpResponse(
            report_event_lines(report_id=report.pk), content_type="text/event-stream", headers=STREAM_HEADERS
        )
        response["X-Report-UUID"] = report.report_uuid
        return response


class ReportEventsApi(DeepAnalysisAPIView):
    @extend_schema(
        parameters=[*CALLER_PARAMETERS, OpenApiParameter("after", int, description="Last sequence already seen")],
        responses={(200, "application/x-ndjson"): s.StreamEventOut},
        tags=TAGS,
        description="The run's events after `after` (replay), then live ones until its final line.",
    )
    def get(self, request: Request, report_id: str) -> StreamingHttpResponse:
        report = self.caller_report(report_id)
        after = request.query_params.get("after", "0")
        if not after.isdigit() or len(after) > 9:
            raise ApplicationError("after must be a non-negative integer.", code="invalid")
        return StreamingHttpResponse(
            report_event_lines(report_id=report.pk, after=int(after)),
            content_type="application/x-ndjson",
            headers=STREAM_HEADERS,
        )


class ReportCancelApi(DeepAnalysisAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, request=None, responses=s.ReportSummaryOut, tags=TAGS)
    def post(self, request: Request, report_id: str) -> Response:
        report = services.report_cancel(report=self.caller_report(report_id))
        return Response(s.ReportSummaryOut(report).data)


class ReportListCreateApi(DeepAnalysisAPIView):
    @extend_schema(
        parameters=[
            *CALLER_PARAMETERS,
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
            OpenApiParameter("status", str),
        ],
        responses=s.ReportSummaryOut(many=True),
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        params = validated(s.ListParamsIn, request.query_params)
        services.report_orphans_fail()
        reports = reports_for_caller(user=request.user, session_id=self.caller_session_id())
        if params.get("status"):
            reports = reports.filter(status=params["status"])
        page = reports[params["offset"] : params["offset"] + params["limit"]]
        return Response(s.ReportSummaryOut(page, many=True).data)

    @extend_schema(
        parameters=CALLER_PARAMETERS,
        request=s.ReportCreateIn,
        responses={200: s.ReportSummaryOut, 201: s.ReportSummaryOut},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = validated(s.ReportCreateIn, request.data)
        user_id_assert_is_caller(user=request.user, user_id=data.get("user_id"))
        report, created = services.report_save_from_client(
            user=request.user, session_id=self.caller_session_id(), data=data
        )
        if report.status == report.Status.COMPLETED and created:
            services.report_html_store(report=report, html=report_html_render(report=report, standalone=False))
        return Response(s.ReportSummaryOut(report).data, status=201 if created else 200)


class ReportHistoryApi(DeepAnalysisAPIView):
    @extend_schema(
        parameters=[*CALLER_PARAMETERS, OpenApiParameter("limit", int)],
        responses=s.ReportDetailOut(many=True),
        tags=TAGS,
        description="The caller's reports, newest first, with their content (the frontend's History tab).",
    )
    def get(self, request: Request) -> Response:
        params = validated(s.HistoryParamsIn, request.query_params)
        services.report_orphans_fail()
        reports = reports_for_caller(user=request.user, session_id=self.caller_session_id())[: params["limit"]]
        return Response(s.ReportDetailOut(reports, many=True).data)


class ReportDetailApi(DeepAnalysisAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, responses=s.ReportDetailOut, tags=TAGS)
    def get(self, request: Request, report_id: str) -> Response:
        return Response(s.ReportDetailOut(self.caller_report(report_id)).data)

    @extend_schema(parameters=CALLER_PARAMETERS, responses=s.MessageOut, tags=TAGS)
    def delete(self, request: Request, report_id: str) -> Response:
        report = self.caller_report_or_alias(report_id)
        services.report_delete(report=report)
        return Response({"message": f"Report {report_id} deleted successfully"})


class ReportStatusApi(DeepAnalysisAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, request=s.StatusIn, responses=s.ReportSummaryOut, tags=TAGS)
    def put(self, request: Request, report_id: str) -> Response:
        status = validated(s.StatusIn, request.data)["status"]
        report = services.report_status_set(report=self.caller_report(report_id), status=status)
        return Response(s.ReportSummaryOut(report).data)


class ReportHtmlApi(DeepAnalysisAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, responses=s.HtmlOut, tags=TAGS)
    def get(self, request: Request, report_uuid: str) -> Response:
        report = self.caller_report(report_uuid)
        html = report_html_render(report=report, standalone=False)
        if report.html_report != html and not report.is_active:
            services.report_html_store(report=report, html=html)
        return Response({"html_report": html, "filename": _filename()})


class DownloadFromDbApi(DeepAnalysisAPIView):
    @extend_schema(
        parameters=CALLER_PARAMETERS,
        request=None,
        responses={(200, "text/html"): str},
        tags=TAGS,
        description="The report as one standalone HTML file (Plotly inlined), rendered from the row's fields. "
        "Takes the report_uuid, the integer id, or the frontend's own `report_<ms>` id of a fresh run.",
    )
    def post(self, request: Request, report_uuid: str) -> HttpResponse:
        report = self.caller_report_or_alias(report_uuid)
        if report.is_active or not (report.final_conclusion or report.synthesis):
            raise ApplicationError("The report has no content yet.", code="report_not_ready", status_code=404)
        return _attachment(report_html_render(report=report, standalone=True))


class DownloadReportApi(DeepAnalysisAPIView):
    @extend_schema(
        parameters=CALLER_PARAMETERS, request=s.DownloadReportIn, responses={(200, "text/html"): str}, tags=TAGS
    )
    def post(self, request: Request) -> HttpResponse:
        data = validated(s.DownloadReportIn, request.data)
        analysis = data["analysis_data"]
        html = report_html_document(analysis=analysis, standalone=True)
        key = data.get("report_uuid")
        if key:
            try:
                report = self.caller_report(key)
            except ApplicationError:
                report = None
            if report is not None and not report.is_active:
                services.report_html_store(
                    report=report, html=report_html_document(analysis=analysis, standalone=False)
                )
        return _attachment(html)


class PlotlyAssetApi(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(responses={(200, "application/javascript"): str}, tags=TAGS)
    def get(self, request: Request) -> FileResponse:
        response = HttpResponse(plotly_js(), content_type="application/javascript; charset=utf-8")
        response["Cache-Control"] = "public, max-age=86400"
        return response
