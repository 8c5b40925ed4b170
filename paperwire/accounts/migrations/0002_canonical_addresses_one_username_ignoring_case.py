"""Verified addresses in the one canonical form (paperwire/accounts/addresses.py), and usernames
unique whatever their letter case, as the sign-up form already checks, in the database too (two
sign-ups at once passed the form's check together)."""

import sys

from django.conf import settings
from django.db import migrations, models

from paperwire.accounts.addresses import canonical_email

INDEX = "accounts_username_upper_uniq"


def canonical_verified_addresses(apps, schema_editor):
    VerifiedEmail = apps.get_model("accounts", "VerifiedEmail")
    for record in VerifiedEmail.objects.only("pk", "email").iterator():
        email = canonical_email(record.email)
        if email != record.email and not VerifiedEmail.objects.filter(email=email).exists():
            VerifiedEmail.objects.filter(pk=record.pk).update(email=email)


def username_unique_ignoring_case(apps, schema_editor):
    table = schema_editor.quote_name(apps.get_model(settings.AUTH_USER_MODEL)._meta.db_table)
    column = schema_editor.quote_name("username")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN({column}) FROM {table} GROUP BY UPPER({column}) HAVING COUNT(*) > 1")
        clashes = [name for (name,) in cursor.fetchall()]
    if clashes:
        sys.stderr.write(
            "paperwire: usernames that differ only in letter case exist ("
            + ", ".join(sorted(clashes)[:10])
            + "): the database cannot refuse the next such pair until one of each is renamed in /admin/; "
            "then run `paperwire migrate accounts 0001` and `paperwire migrate`.\n"
        )
        return
    schema_editor.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {INDEX} ON {table} (UPPER({column}))")


def drop_index(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_verified_email"),
        # After every migration of the user table: on SQLite, altering a table rebuilds it
        # without the indexes its model does not declare.
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterField(
            model_name="verifiedemail",
            name="email",
            field=models.EmailField(
                help_text="Stored canonical (paperwire.accounts.addresses).", max_length=254, unique=True
            ),
        ),
        migrations.RunPython(canonical_verified_addresses, migrations.RunPython.noop),
        migrations.RunPython(username_unique_ignoring_case, drop_index),
    ]
