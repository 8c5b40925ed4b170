from django.db import migrations, models
from django.db.models import F, OuterRef, Subquery


def current_by_time(apps, schema_editor):
    """The vectors the rule before this release held current (stored after their paper last
    changed) are of the paper's version as it stands: the others are embedded again."""
    Paper = apps.get_model("papers", "Paper")
    PaperVector = apps.get_model("search", "PaperVector")
    version = Subquery(Paper.objects.filter(pk=OuterRef("paper_id")).values("updated_at")[:1])
    PaperVector.objects.filter(updated_at__gte=F("paper__updated_at")).update(source_updated_at=version)


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0010_paper_feed_order"),
        ("search", "0003_vector_model_and_time_indexed"),
    ]

    operations = [
        migrations.AddField(
            model_name="papervector",
            name="source_updated_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(current_by_time, migrations.RunPython.noop, elidable=True),
    ]
