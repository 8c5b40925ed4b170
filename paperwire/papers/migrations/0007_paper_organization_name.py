"""Keep, for each paper, the name its source gave its organization, so that an organization is
shown by the best spelling of the names its papers came with (orgnames.best_spelling).

Papers imported before have no spelling kept: importing them again fills it in. Meanwhile an
organization shown all in lower case by a name that its own handle writes with capitals
("ucas", handle "UCAS") is shown by the handle at once.
"""

from django.db import migrations, models

from paperwire.papers.orgnames import NAME_LENGTH, best_spelling


def respell(apps, schema_editor):
    Organization = apps.get_model("papers", "Organization")
    for org in Organization.objects.order_by("pk").iterator():
        current = org.fullname or org.name
        shown = best_spelling({current: 0}, org.name)
        if shown and shown != current:
            Organization.objects.filter(pk=org.pk).update(fullname=shown)


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0006_organization_slug_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="paper",
            name="organization_name",
            field=models.CharField(
                blank=True,
                help_text="The organization's name as this paper's source spelled it (its fullname, else its name).",
                max_length=NAME_LENGTH,
            ),
        ),
        migrations.AlterField(
            model_name="organization",
            name="fullname",
            field=models.CharField(
                blank=True,
                help_text="The name shown: the best spelling of the names its papers came with, set again by each import.",
                max_length=NAME_LENGTH,
            ),
        ),
        migrations.RunPython(respell, migrations.RunPython.noop),
    ]
