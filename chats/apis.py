"""``/chats`` and ``/feedback`` routes (reference §1.4, §1.8) with real ownership.

An authenticated caller owns the chats created under their API key; an anonymous caller
owns the chats created in their analysis session, so must send its id (``X-Session-ID``
or ``?session_id=``). Every chat, message and feedback row is fetched through the
``*_get_for_caller`` selectors: anything the caller does not own is a 404. The session,
when there is one, comes from sessions_app exactly as on every other route (the HTTP
layer is where chats meets another app).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chats import serializers as s
from chats.models import Chat
from chats.selectors import (
    chat_feedback,
    chat_get_for_caller,
    chat_messages,
    chats_for_caller,
    message_feedback_get_for_caller,
    message_get_for_caller,
)
from chats.services import (
    FeedbackModelSettings,
    chat_create,
    chat_delete,
    chat_message_append,
    chat_update,
    chats_cleanup_empty,
    message_feedback_upsert,
    user_get_or_create,
    user_id_assert_is_caller,
)
from sessions_app.apis import (
    SESSION_PARAMETERS,
    SessionAPIView,
    request_fingerprint,
    request_sends_session,
    validated,
)
from sessions_app.models import AnalysisSession

CALLER_PARAMETERS = [
    *SESSION_PARAMETERS,
    OpenApiParameter("user_id", int, OpenApiParameter.QUERY, required=False, description="Accepted only if it is you"),
]


class ChatsAPIView(SessionAPIView):
    """Base for routes on the caller's chats."""

    def caller_session(self) -> AnalysisSession | None:
        """The caller's analysis session; None for an authenticated caller who sent none.

        An anonymous caller must send one (400 without, 404 for an unknown, expired or
        someone else's): it is what owns their chats. An authenticated caller's session
        is optional, and checked the same way when sent.
        """
        request = self.request
        user_id_assert_is_caller(user=request.user, user_id=request.query_params.get("user_id"))
        sent = (request.META.get("HTTP_X_SESSION_ID") or request.query_params.get("session_id") or "").strip()
        if request.user.is_authenticated and not sent:
            return None
        return self.analysis_session()

    def caller_session_id(self) -> str | None:
        session = self.caller_session()
        return session.pk if session is not None else None

    def caller_chat(self, chat_id: int) -> Chat:
        return chat_get_for_caller(chat_id=chat_id, user=self.request.user, session_id=self.caller_session_id())


# --- chats ---------------------------------------------------------------------------------


class ChatListCreateApi(ChatsAPIView):
    @extend_schema(
        parameters=[*CALLER_PARAMETERS, OpenApiParameter("limit", int), OpenApiParameter("offset", int)],
        responses=s.ChatOut(many=True),
        tags=["chats"],
    )
    def get(self, request: Request) -> Response:
        query = validated(s.ChatListQueryIn, request.query_params)
        chats = chats_for_caller(user=request.user, session_id=self.caller_session_id())
        page = chats[query["offset"] : query["offset"] + query["limit"]]
        return Response(s.ChatOut(page, many=True).data)

    @extend_schema(parameters=CALLER_PARAMETERS, request=s.ChatCreateIn, responses=s.ChatOut, tags=["chats"])
    def post(self, request: Request) -> Response:
        data = validated(s.ChatCreateIn, request.data)
        user_id_assert_is_caller(user=request.user, user_id=data.get("user_id"))
        chat = chat_create(
            user=request.user, session_id=self.caller_session_id(), fingerprint=request_fingerprint(request)
        )
        return Response(s.ChatOut(chat).data)


class ChatListCreateAliasApi(ChatListCreateApi):
    """``/chats`` without the slash: served, but left out of the schema, which documents ``/chats/``."""

    schema = None


class ChatDetailApi(ChatsAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, responses=s.ChatDetailOut, tags=["chats"])
    def get(self, request: Request, chat_id: int) -> Response:
        chat = self.caller_chat(chat_id)
        messages = s.ChatMessageOut(chat_messages(chat=chat), many=True).data
        return Response({**s.ChatOut(chat).data, "messages": messages})

    @extend_schema(parameters=CALLER_PARAMETERS, request=s.ChatUpdateIn, responses=s.ChatOut, tags=["chats"])
    def put(self, request: Request, chat_id: int) -> Response:
        data = validated(s.ChatUpdateIn, request.data)
        # The reference moves the chat to the user_id given; here it can only name the caller.
        user_id_assert_is_caller(user=request.user, user_id=data.get("user_id"))
        chat = chat_update(chat=self.caller_chat(chat_id), title=data.get("title"))
        return Response(s.ChatOut(chat).data)

    @extend_schema(parameters=CALLER_PARAMETERS, responses=s.ChatDeletedOut, tags=["chats"])
    def delete(self, request: Request, chat_id: int) -> Response:
        chat_delete(chat=self.caller_chat(chat_id))
        return Response({"message": f"Chat {chat_id} deleted successfully", "preserved_model_usage": True})


class ChatMessageCreateApi(ChatsAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, request=s.MessageCreateIn, responses=s.ChatMessageOut, tags=["chats"])
    def post(self, request: Request, chat_id: int) -> Response:
        data = validated(s.MessageCreateIn, request.data)
        chat = self.caller_chat(chat_id)
        # 200 whether stored or recognised as a copy of a stored message (then that one).
        message = chat_message_append(chat=chat, sender=data["sender"], content=data["content"])
        return Response(s.ChatMessageOut(message).data)


class ChatUsersApi(APIView):
    # Anonymous callers have no record to look up: 401, whatever ALLOW_ANONYMOUS says.
    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.UserIn, responses=s.UserOut, tags=["chats"])
    def post(self, request: Request) -> Response:
        data = validated(s.UserIn, request.data)
        user = user_get_or_create(caller=request.user, username=data["username"], email=data["email"])
        return Response(s.UserOut(user).data)


class ChatsCleanupEmptyApi(ChatsAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, request=s.ChatCreateIn, responses=s.ChatsCleanupOut, tags=["chats"])
    def post(self, request: Request) -> Response:
        data = validated(s.ChatCreateIn, request.data)
        user_id_assert_is_caller(user=request.user, user_id=data.get("user_id"))
        # The reference trusts the body's is_admin; staff status decides here. A staff
        # caller naming themselves cleans up only their own chats, as in the reference.
        everyone = request.user.is_staff and data.get("user_id") is None
        deleted = chats_cleanup_empty(user=request.user, session_id=self.caller_session_id(), everyone=everyone)
        return Response({"message": f"Deleted {deleted} empty chats"})


# --- feedback ------------------------------------------------------------------------------


class MessageFeedbackApi(ChatsAPIView):
    """Ratings of the caller's messages.

    The web frontend sends these with no session id and no credentials; such a caller is
    scoped by its client fingerprint to the anonymous chats it created (see
    ``chats.selectors``), so its stars work and nobody else's messages are reachable.
    """

    def caller_scope(self) -> dict:
        request = self.request
        if not request.user.is_authenticated and not request_sends_session(request):
            user_id_assert_is_caller(user=request.user, user_id=request.query_params.get("user_id"))
            return {"session_id": None, "fingerprint": request_fingerprint(request)}
        return {"session_id": self.caller_session_id()}

    @extend_schema(parameters=CALLER_PARAMETERS, request=s.FeedbackIn, responses=s.FeedbackOut, tags=["feedback"])
    def post(self, request: Request, message_id: int) -> Response:
        data = validated(s.FeedbackIn, request.data)
        scope = self.caller_scope()
        message = message_get_for_caller(message_id=message_id, user=request.user, **scope)
        session = self.caller_session() if scope["session_id"] else None
        fallback = None
        if session is not None:
            # Fields the body leaves out are taken from the model the caller is using now.
            fallback = FeedbackModelSettings(
                model_name=session.model_name,
                model_provider=session.model_provider,
                temperature=session.temperature,
                max_tokens=session.max_tokens,
            )
        feedback = message_feedback_upsert(
            message=message,
            rating=data["rating"],
            model=FeedbackModelSettings(
                model_name=data.get("model_name"),
                model_provider=data.get("model_provider"),
                temperature=data.get("temperature"),
                max_tokens=data.get("max_tokens"),
            ),
            fallback=fallback,
        )
        return Response(s.FeedbackOut(feedback).data)

    @extend_schema(parameters=CALLER_PARAMETERS, responses=s.FeedbackOut, tags=["feedback"])
    def get(self, request: Request, message_id: int) -> Response:
        feedback = message_feedback_get_for_caller(message_id=message_id, user=request.user, **self.caller_scope())
        return Response(s.FeedbackOut(feedback).data)


class ChatFeedbackApi(ChatsAPIView):
    @extend_schema(parameters=CALLER_PARAMETERS, responses=s.FeedbackOut(many=True), tags=["feedback"])
    def get(self, request: Request, chat_id: int) -> Response:
        # Unlike the reference (an empty list for any id), a chat that is not yours is a 404.
        chat = self.caller_chat(chat_id)
        return Response(s.FeedbackOut(chat_feedback(chat=chat), many=True).data)
