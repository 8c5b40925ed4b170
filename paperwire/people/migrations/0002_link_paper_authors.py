"""Link the papers of an existing database to their authors (paperwire.people.linking.link_all):
an author for each name key, each paper's places, and the abbreviated names the rules put on a
full name's page. In memory and in bulk (the 74,728 papers of the arXiv set take about 20 s:
docs/community.md); running it again changes nothing. New imports link their papers
themselves (paperwire.ingest.upsert)."""

from django.db import migrations

from paperwire.people.linking import link_all


def link_authors(apps, schema_editor):
    link_all(
        apps.get_model("papers", "Paper"), apps.get_model("people", "Author"), apps.get_model("people", "PaperAuthor")
    )


class Migration(migrations.Migration):
    dependencies = [("people", "0001_authors_and_claims")]

    operations = [migrations.RunPython(link_authors, migrations.RunPython.noop, elidable=True)]
