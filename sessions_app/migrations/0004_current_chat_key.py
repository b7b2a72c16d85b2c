"""``current_chat_id`` becomes the column of a key to chats.Chat (on delete: set null).

The column keeps its name and values, so bindings survive; ids of chats already deleted
are cleared first. The ORM applies SET_NULL when a chat is deleted, so the column needs
no database-level constraint (and SQLite needs no table rebuild).
"""

import django.db.models.deletion
from django.db import migrations, models


def clear_dangling_bindings(apps, schema_editor):
    session = apps.get_model("sessions_app", "AnalysisSession")
    chat = apps.get_model("chats", "Chat")
    bound = session.objects.exclude(current_chat_id=None)
    bound.exclude(current_chat_id__in=chat.objects.values("pk")).update(current_chat_id=None)


class Migration(migrations.Migration):
    dependencies = [
        ("chats", "0002_chats_messages_feedback"),
        ("sessions_app", "0003_dataset_file_agent_context"),
    ]

    operations = [
        migrations.RunPython(clear_dangling_bindings, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="analysissession", name="current_chat_id"),
                migrations.AddField(
                    model_name="analysissession",
                    name="current_chat",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="chats.chat",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
