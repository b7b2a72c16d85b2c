"""HTTP routes for agent templates and per-user template preferences (reference §1.7).

``{user_id}`` in a path must be the authenticated caller (anyone else's id is a 404
"User not found"). An anonymous caller (the web frontend's guests and Temporary Login,
which send ``/templates/user/1/...`` with no credentials) is never given user 1's
preferences: the path id is ignored and its preferences are its analysis session's
(``X-Session-ID`` or ``?session_id=``); without a session it reads the defaults (the core
agents enabled) and cannot change them. Custom templates are ours: their owner creates,
changes and deletes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import NotFoundError
from sessions_app.apis import request_sends_session, session_id_from, validated
from sessions_app.services import session_for_request
from templates import serializers as s
from templates.selectors import (
    INDIVIDUAL_VARIANTS,
    PLANNER_VARIANTS,
    enabled_planner_template_states,
    is_signed_in,
    template_categories,
    template_get,
    template_groups_by_category,
    template_list,
    template_list_by_category,
    template_states_for_user,
    template_with_usage,
)
from templates.services import (
    CustomTemplateOutcome,
    custom_template_create,
    custom_template_delete,
    custom_template_update,
    template_preference_set,
    template_preferences_bulk_set,
    toggle_message,
)

TAGS = ["templates"]
ALL_VARIANTS = ("all", "individual", "planner")
USER_VARIANTS = ("individual", "planner")


def variant_parameter(default: str, allowed: tuple[str, ...]) -> OpenApiParameter:
    return OpenApiParameter(
        "variant_type", str, OpenApiParameter.QUERY, required=False, enum=list(allowed), default=default
    )


def query_variant(request: Request, *, default: str, allowed: tuple[str, ...]) -> str:
    """``variant_type`` from the query; like the reference, an unknown value means the default."""
    value = request.query_params.get("variant_type", "")
    return value if value in allowed else default


@dataclass(frozen=True)
class PreferenceCaller:
    user: object
    session_id: str | None  # an anonymous caller's session, when it sent one


def caller_for_path(request: Request, user_id: int) -> PreferenceCaller:
    """A signed-in caller, who must be the user the path names, or an anonymous one."""
    if is_signed_in(request.user):
        if request.user.pk != user_id:
            raise NotFoundError("User not found", code="user_not_found")
        return PreferenceCaller(user=request.user, session_id=None)
    if not request_sends_session(request):
        return PreferenceCaller(user=request.user, session_id=None)
    session = session_for_request(session_id=session_id_from(request), user=request.user)
    return PreferenceCaller(user=request.user, session_id=session.pk)


def signed_in_caller(request: Request):
    if not is_signed_in(request.user):
        raise exceptions.NotAuthenticated(
            "Custom templates belong to a user: send an API key in X-API-Key or Authorization: Bearer."
        )
    return request.user


def custom_template_body(outcome: CustomTemplateOutcome) -> dict:
    template = template_with_usage(template=outcome.template)
    template.is_enabled = outcome.is_enabled
    template.message = outcome.message
    return s.CustomTemplateOut(template).data


# --- templates ---------------------------------------------------------------------------


class TemplateListApi(APIView):
    @extend_schema(parameters=[variant_parameter("all", ALL_VARIANTS)], responses=s.TemplateOut(many=True), tags=TAGS)
    def get(self, request: Request) -> Response:
        variant = query_variant(request, default="all", allowed=ALL_VARIANTS)
        return Response(s.TemplateOut(template_list(user=request.user, variant_type=variant), many=True).data)


class TemplateDetailApi(APIView):
    @extend_schema(responses=s.TemplateOut, tags=TAGS)
    def get(self, request: Request, template_id: int) -> Response:
        return Response(s.TemplateOut(template_get(user=request.user, template_id=template_id)).data)


class CategoryNamesApi(APIView):
    @extend_schema(responses=s.CategoriesListOut, tags=TAGS)
    def get(self, request: Request) -> Response:
        return Response({"categories": template_categories(user=request.user)})


class CategoryGroupsApi(APIView):
    @extend_schema(
        parameters=[variant_parameter("individual", ALL_VARIANTS)], responses=s.CategoryGroupOut(many=True), tags=TAGS
    )
    def get(self, request: Request) -> Response:
        variant = query_variant(request, default="individual", allowed=ALL_VARIANTS)
        groups = template_groups_by_category(user=request.user, variant_type=variant)
        body = [{"category": category, "templates": templates} for category, templates in groups]
        return Response(s.CategoryGroupOut(body, many=True).data)


class CategoryTemplatesApi(APIView):
    @extend_schema(responses=s.TemplateOut(many=True), tags=TAGS)
    def get(self, request: Request, category: str) -> Response:
        templates = template_list_by_category(user=request.user, category=category)
        return Response(s.TemplateOut(templates, many=True).data)


# --- a user's preferences ----------------------------------------------------------------


def user_variants(request: Request) -> tuple[str, ...]:
    variant = query_variant(request, default="planner", allowed=USER_VARIANTS)
    return PLANNER_VARIANTS if variant == "planner" else INDIVIDUAL_VARIANTS


class UserTemplatesApi(APIView):
    @extend_schema(
        parameters=[variant_parameter("planner", USER_VARIANTS)],
        responses=s.UserTemplatePreferenceOut(many=True),
        tags=TAGS,
    )
    def get(self, request: Request, user_id: int) -> Response:
        caller = caller_for_path(request, user_id)
        states = template_states_for_user(
            user=caller.user, variants=user_variants(request), session_id=caller.session_id
        )
        return Response(s.UserTemplatePreferenceOut(states, many=True).data)


class UserEnabledTemplatesApi(APIView):
    @extend_schema(
        parameters=[variant_parameter("planner", USER_VARIANTS)],
        responses=s.UserTemplatePreferenceOut(many=True),
        tags=TAGS,
    )
    def get(self, request: Request, user_id: int) -> Response:
        caller = caller_for_path(request, user_id)
        states = template_states_for_user(
            user=caller.user, variants=user_variants(request), session_id=caller.session_id
        )
        return Response(s.UserTemplatePreferenceOut([st for st in states if st.is_enabled], many=True).data)


class UserPlannerTemplatesApi(APIView):
    @extend_schema(responses=s.UserTemplatePreferenceOut(many=True), tags=TAGS)
    def get(self, request: Request, user_id: int) -> Response:
        caller = caller_for_path(request, user_id)
        states = enabled_planner_template_states(user=caller.user, session_id=caller.session_id)
        return Response(s.UserTemplatePreferenceOut(states, many=True).data)


class TemplateToggleApi(APIView):
    @extend_schema(request=s.ToggleIn, responses=s.TemplateMessageOut, tags=TAGS)
    def post(self, request: Request, user_id: int, template_id: int) -> Response:
        caller = caller_for_path(request, user_id)
        is_enabled = validated(s.ToggleIn, request.data)["is_enabled"]
        template = template_preference_set(
            user=caller.user, template_id=template_id, is_enabled=is_enabled, session_id=caller.session_id
        )
        return Response({"message": toggle_message(template, is_enabled)})


class UserToggleApi(APIView):
    """The route the reference frontend calls (the reference never served it)."""

    @extend_schema(request=s.TemplateToggleIn, responses=s.TemplateMessageOut, tags=TAGS)
    def post(self, request: Request, user_id: int) -> Response:
        caller = caller_for_path(request, user_id)
        data = validated(s.TemplateToggleIn, request.data)
        template = template_preference_set(
            user=caller.user,
            template_id=data["template_id"],
            is_enabled=data["is_enabled"],
            session_id=caller.session_id,
        )
        return Response({"message": toggle_message(template, data["is_enabled"])})


class BulkToggleApi(APIView):
    @extend_schema(request=s.BulkToggleIn, responses=s.BulkToggleOut, tags=TAGS)
    def post(self, request: Request, user_id: int) -> Response:
        caller = caller_for_path(request, user_id)
        preferences = validated(s.BulkToggleIn, request.data)["preferences"]
        items = [(item["template_id"], item["is_enabled"]) for item in preferences]
        results = template_preferences_bulk_set(user=caller.user, items=items, session_id=caller.session_id)
        return Response(s.BulkToggleOut({"results": results}).data)


# --- custom templates --------------------------------------------------------------------


class CustomTemplateCreateApi(APIView):
    @extend_schema(request=s.CustomTemplateIn, responses={201: s.CustomTemplateOut}, tags=TAGS)
    def post(self, request: Request) -> Response:
        user = signed_in_caller(request)
        serializer = s.CustomTemplateIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = custom_template_create(user=user, **serializer.model_fields())
        return Response(custom_template_body(outcome), status=status.HTTP_201_CREATED)


class CustomTemplateDetailApi(APIView):
    @extend_schema(request=s.CustomTemplateUpdateIn, responses=s.CustomTemplateOut, tags=TAGS)
    def put(self, request: Request, template_id: int) -> Response:
        user = signed_in_caller(request)
        serializer = s.CustomTemplateUpdateIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = custom_template_update(user=user, template_id=template_id, changes=serializer.model_fields())
        return Response(custom_template_body(outcome))

    @extend_schema(responses={200: s.TemplateMessageOut, 404: OpenApiResponse(description="not yours")}, tags=TAGS)
    def delete(self, request: Request, template_id: int) -> Response:
        user = signed_in_caller(request)
        name = custom_template_delete(user=user, template_id=template_id)
        return Response({"message": f"Template '{name}' deleted successfully"})
