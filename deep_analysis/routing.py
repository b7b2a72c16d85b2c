from django.urls import path

from deep_analysis.consumers import DeepAnalysisConsumer

websocket_urlpatterns = [
    path("ws/deep_analysis/<str:report_uuid>/", DeepAnalysisConsumer.as_asgi()),
]
