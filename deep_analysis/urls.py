from django.urls import path

from deep_analysis import apis

urlpatterns = [
    path("deep_analysis_streaming", apis.DeepAnalysisStreamingApi.as_view()),
    path("deep_analysis/download_report", apis.DownloadReportApi.as_view()),
    path("deep_analysis/download_from_db/<str:report_uuid>", apis.DownloadFromDbApi.as_view()),
    path("deep_analysis/assets/plotly.min.js", apis.PlotlyAssetApi.as_view()),
    path("deep_analysis/reports", apis.ReportListCreateApi.as_view()),
    path("deep_analysis/reports/user_historical", apis.ReportHistoryApi.as_view()),
    path("deep_analysis/reports/uuid/<str:report_uuid>/html", apis.ReportHtmlApi.as_view()),
    path("deep_analysis/reports/uuid/<str:report_id>", apis.ReportDetailApi.as_view()),
    path("deep_analysis/reports/<str:report_id>", apis.ReportDetailApi.as_view()),
    path("deep_analysis/reports/<str:report_id>/status", apis.ReportStatusApi.as_view()),
    path("deep_analysis/reports/<str:report_id>/cancel", apis.ReportCancelApi.as_view()),
    path("deep_analysis/reports/<str:report_id>/events", apis.ReportEventsApi.as_view()),
]
