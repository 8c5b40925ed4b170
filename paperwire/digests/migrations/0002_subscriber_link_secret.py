"""Each subscriber's links carry a secret of its own, replaced to retire them
(paperwire/digests/tokens.py). Existing subscribers start with none, which signs links exactly
as before: the links in digests already sent keep working until the secret is first replaced.
Addresses are put in the one canonical form (paperwire/accounts/addresses.py)."""

from django.db import migrations, models

import paperwire.digests.models
from paperwire.accounts.addresses import canonical_email

HELP = (
    "Signed into the manage, unsubscribe and web-version links; replaced to retire them. "
    "Empty for subscribers from before links carried it (their links are signed as they were)."
)


def canonical_addresses(apps, schema_editor):
    Subscriber = apps.get_model("digests", "Subscriber")
    for subscriber in Subscriber.objects.only("pk", "email").iterator():
        email = canonical_email(subscriber.email)
        if email != subscriber.email and not Subscriber.objects.filter(email=email).exists():
            Subscriber.objects.filter(pk=subscriber.pk).update(email=email)


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="subscriber",
            name="link_secret",
            field=models.CharField(blank=True, default="", editable=False, help_text=HELP, max_length=64),
        ),
        migrations.AlterField(
            model_name="subscriber",
            name="link_secret",
            field=models.CharField(
                blank=True,
                default=paperwire.digests.models.new_link_secret,
                editable=False,
                help_text=HELP,
                max_length=64,
            ),
        ),
        migrations.AlterField(
            model_name="subscriber",
            name="email",
            field=models.EmailField(
                help_text="Stored canonical (paperwire.accounts.addresses).", max_length=254, unique=True
            ),
        ),
        migrations.RunPython(canonical_addresses, migrations.RunPython.noop),
    ]
