from django.urls import path

from templates import apis

urlpatterns = [
    path("", apis.TemplateListApi.as_view()),
    path("template/<int:template_id>", apis.TemplateDetailApi.as_view()),
    path("categories/list", apis.CategoryNamesApi.as_view()),
    path("categories", apis.CategoryGroupsApi.as_view()),
    path("category/<path:category>", apis.CategoryTemplatesApi.as_view()),
    path("user/<int:user_id>", apis.UserTemplatesApi.as_view()),
    path("user/<int:user_id>/enabled", apis.UserEnabledTemplatesApi.as_view()),
    path("user/<int:user_id>/enabled/planner", apis.UserPlannerTemplatesApi.as_view()),
    path("user/<int:user_id>/template/<int:template_id>/toggle", apis.TemplateToggleApi.as_view()),
    path("user/<int:user_id>/toggle", apis.UserToggleApi.as_view()),
    path("user/<int:user_id>/bulk-toggle", apis.BulkToggleApi.as_view()),
    path("custom", apis.CustomTemplateCreateApi.as_view()),
    path("custom/<int:template_id>", apis.CustomTemplateDetailApi.as_view()),
]
