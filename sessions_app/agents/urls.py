from django.urls import path

from sessions_app.agents import apis

urlpatterns = [
    path("chat", apis.ChatApi.as_view()),
    path("chat/<str:agent_name>", apis.ChatAgentApi.as_view()),
    path("agents", apis.AgentsApi.as_view()),
    path("chat_history_name", apis.ChatHistoryNameApi.as_view()),
    path("code/edit", apis.CodeEditApi.as_view()),
    path("code/fix", apis.CodeFixApi.as_view()),
]
