"""``/chats`` and ``/feedback`` routes.

The reference serves list and create at ``/chats/`` and everything else without a
trailing slash; ``/chats`` is served too, without a redirect (a redirected POST loses
its body in many clients). Non-numeric ids match no route: 404.
"""

from django.urls import path

from chats import apis

urlpatterns = [
    path("chats/", apis.ChatListCreateApi.as_view()),
    path("chats", apis.ChatListCreateAliasApi.as_view()),
    path("chats/users", apis.ChatUsersApi.as_view()),
    path("chats/cleanup-empty", apis.ChatsCleanupEmptyApi.as_view()),
    path("chats/<int:chat_id>", apis.ChatDetailApi.as_view()),
    path("chats/<int:chat_id>/messages", apis.ChatMessageCreateApi.as_view()),
    path("feedback/message/<int:message_id>", apis.MessageFeedbackApi.as_view()),
    path("feedback/chat/<int:chat_id>", apis.ChatFeedbackApi.as_view()),
]
