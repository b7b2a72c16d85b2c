"""Reactions to other apps' signals: naming a chat after its first exchange."""

from __future__ import annotations

from django.dispatch import receiver

from chats.models import DEFAULT_CHAT_TITLE, Chat
from chats.signals import chat_title_wanted
from sessions_app.agents.background import run_in_background
from sessions_app.models import AnalysisSession


@receiver(chat_title_wanted, dispatch_uid="sessions_app.name_chat")
def name_chat(sender, *, chat_id: int, query: str, **kwargs) -> None:
    run_in_background(lambda: chat_name_from_first_question(chat_id=chat_id, query=query))


def chat_name_from_first_question(*, chat_id: int, query: str) -> None:
    """Title the chat with ``chat_history_name_agent`` on its session's model (if it still
    has the default title: a rename by the user wins)."""
    from sessions_app.agents.services import chat_title_generate

    chat = Chat.objects.select_related("user").filter(pk=chat_id, title=DEFAULT_CHAT_TITLE).first()
    if chat is None:
        return
    session = AnalysisSession.objects.filter(pk=chat.session_id).first() if chat.session_id else None
    title = chat_title_generate(session=session, user=chat.user, query=query, chat_id=chat.pk)
    Chat.objects.filter(pk=chat_id, title=DEFAULT_CHAT_TITLE).update(title=title[:255])
