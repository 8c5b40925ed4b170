# Submissions accepted while arXiv is slow wait as "pending" rows (no paper yet) for the worker.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def name_the_papers_submitted_so_far(apps, schema_editor):
    Submission = apps.get_model("papers", "Submission")
    Submission.objects.update(arxiv_id=models.F("paper_id"))


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0002_content_version"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="arxiv_id",
            field=models.CharField(default="", help_text="The paper asked for.", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(name_the_papers_submitted_so_far, migrations.RunPython.noop),
        migrations.AddField(
            model_name="submission",
            name="attempts",
            field=models.IntegerField(default=0),
        ),
        migrations.AddField(
            model_name="submission",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="last_error",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="submission",
            name="state",
            field=models.CharField(
                choices=[("pending", "waiting for arXiv"), ("done", "on the feed"), ("failed", "failed")],
                default="done",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="paper",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="submissions",
                to="papers.paper",
            ),
        ),
        migrations.AddIndex(
            model_name="submission",
            index=models.Index(fields=["user", "created_at"], name="submission_user_day"),
        ),
        migrations.AddConstraint(
            model_name="submission",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state", "pending")),
                fields=("arxiv_id",),
                name="one_pending_submission_per_paper",
            ),
        ),
    ]
