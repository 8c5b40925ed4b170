# The rate-limit counters moved to the core app (core/migrations/0001): the table stays.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial"), ("core", "0001_ratecounter_from_api")]

    operations = [migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="RateCounter")])]
