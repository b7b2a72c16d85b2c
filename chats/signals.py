"""Signals the chats app sends for other apps to act on.

``chat_title_wanted`` — a chat got its first answer while it still has the default
title. Keyword arguments: ``chat_id`` (int) and ``query`` (str, the chat's first user
message). It is sent after the transaction that stored the answer commits, at most once
per chat, from the thread that stored it: a receiver that calls a language model should
hand the work to the background rather than hold up that request. Receivers must not
assume the chat still exists (it may have been deleted since) or still has the default
title (someone may have renamed it). A receiver's exception is logged, never raised
into the caller.
"""

from __future__ import annotations

import django.dispatch

chat_title_wanted = django.dispatch.Signal()
