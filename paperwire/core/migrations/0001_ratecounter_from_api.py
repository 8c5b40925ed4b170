# The rate-limit counters moved from the api app (where they began) to core, below every app
# that counts: the table keeps its name and rows, only Django's record of the model moves.

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("api", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="RateCounter",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("bucket", models.CharField(max_length=200)),
                        ("window_start", models.BigIntegerField(help_text="Unix time the window began")),
                        ("hits", models.IntegerField(default=0)),
                    ],
                    options={
                        "db_table": "api_ratecounter",
                        "indexes": [models.Index(fields=["window_start"], name="ratecounter_window")],
                        "constraints": [
                            models.UniqueConstraint(fields=("bucket", "window_start"), name="one_counter_per_window")
                        ],
                    },
                ),
            ]
        )
    ]
