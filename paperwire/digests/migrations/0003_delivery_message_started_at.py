"""A delivery records when its sender began sending the message itself, so that a sender that
stops before that leaves the digest to retry rather than uncertain (docs/digests.md). Rows
being sent by an older version when it is applied cannot tell: they keep counting as started."""

from django.db import migrations, models
from django.db.models import F


def started_if_sending(apps, schema_editor):
    Delivery = apps.get_model("digests", "Delivery")
    Delivery.objects.filter(state="sending").update(message_started_at=F("claimed_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0002_subscriber_link_secret"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="message_started_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the claiming sender began sending the message itself (after DATA): before, "
                "the server cannot have it, and a sender that stops leaves the digest to retry, not uncertain.",
                null=True,
            ),
        ),
        migrations.RunPython(started_if_sending, migrations.RunPython.noop),
    ]
