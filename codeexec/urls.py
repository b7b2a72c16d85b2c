from django.urls import path

from codeexec import apis

urlpatterns = [
    path("code/execute", apis.CodeExecuteApi.as_view()),
    path("code/clean-code", apis.CleanCodeApi.as_view()),
    path("code/get-latest-code", apis.LatestCodeApi.as_view()),
]
