"""Notifications of comments by email (docs/community.md, "Notifications"): each user's settings (two kinds,
and the secret of their unsubscribe link), the comments they are to be told about (one row per
person and comment), and the mails that carry them (sent exactly once, like digests)."""

import django.db.models.deletion
import django.utils.timezone
import paperwire.digests.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0004_shownpaper_followed"),
        ("discussions", "0001_comments_votes_reports"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="NotificationMail",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField(help_text="The user's first mail is 1, the next 2...")),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "pending"),
                            ("sending", "sending"),
                            ("sent", "sent"),
                            ("retry", "retry"),
                            ("failed", "failed"),
                            ("uncertain", "uncertain"),
                            ("skipped", "skipped"),
                        ],
                        db_index=True,
                        default="pending",
                        max_length=20,
                    ),
                ),
                ("attempts", models.IntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("claimed_by", models.CharField(blank=True, max_length=100)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("message_started_at", models.DateTimeField(blank=True, null=True)),
                ("message_id", models.CharField(blank=True, max_length=200)),
                (
                    "email",
                    models.EmailField(blank=True, help_text="The verified address it was sent to.", max_length=254),
                ),
                ("last_error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notification_mails",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="NotificationEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("as_reply", models.BooleanField(default=False, help_text="A reply in the thread of their comment.")),
                ("as_submitter", models.BooleanField(default=False, help_text="On a paper they submitted.")),
                (
                    "as_author",
                    models.BooleanField(default=False, help_text="On a paper they authored (an approved claim)."),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("dropped", models.BooleanField(default=False)),
                (
                    "comment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="discussions.comment"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notification_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "mail",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="events",
                        to="digests.notificationmail",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="NotificationSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("replies", models.BooleanField(default=True, help_text="Mail me replies to my comments.")),
                (
                    "paper_comments",
                    models.BooleanField(
                        default=True,
                        help_text="Mail me new comments on papers I submitted or authored (an approved claim).",
                    ),
                ),
                (
                    "link_secret",
                    models.CharField(default=paperwire.digests.models.new_link_secret, editable=False, max_length=64),
                ),
                ("changed_at", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notification_settings",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="notificationmail",
            constraint=models.UniqueConstraint(fields=("user", "number"), name="one_notification_mail_per_number"),
        ),
        migrations.AddIndex(
            model_name="notificationevent",
            index=models.Index(
                condition=models.Q(("dropped", False), ("mail__isnull", True)), fields=["user"], name="notify_waiting"
            ),
        ),
        migrations.AddConstraint(
            model_name="notificationevent",
            constraint=models.UniqueConstraint(fields=("user", "comment"), name="one_notification_per_comment"),
        ),
    ]
