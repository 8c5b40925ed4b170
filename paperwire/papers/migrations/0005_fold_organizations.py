"""Give every organization a slug and its alias keys, and merge the organizations that are one.

Organizations meet when any of their names or fullnames fold alike or they share a Hugging
Face id (paperwire.papers.orgnames); the oldest of each group keeps its row and takes the
others' papers, names and blank fields. Old URLs (/orgs/<name>) keep working: the view
redirects any folded name to its organization.
"""

from django.db import migrations
from django.utils import timezone

from paperwire.papers.orgnames import alias_keys, slug_for


def fold_organizations(apps, schema_editor):
    Organization = apps.get_model("papers", "Organization")
    Alias = apps.get_model("papers", "OrganizationAlias")
    Paper = apps.get_model("papers", "Paper")
    orgs = list(Organization.objects.order_by("pk"))
    parent = {org.pk: org.pk for org in orgs}

    def root(pk):
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    owner = {}
    keys_of = {}
    for org in orgs:
        keys_of[org.pk] = alias_keys(org.name, org.fullname, org.hf_id)
        for key in keys_of[org.pk]:
            if key in owner:
                a, b = root(org.pk), root(owner[key])
                parent[max(a, b)] = min(a, b)
            else:
                owner[key] = org.pk
    groups = {}
    for org in orgs:
        groups.setdefault(root(org.pk), []).append(org)
    slugs = set()
    aliases = []
    now = timezone.now()
    for members in groups.values():
        survivor, others = members[0], members[1:]
        for other in others:
            for field in ("fullname", "avatar_url", "hf_id"):
                if not getattr(survivor, field) and getattr(other, field):
                    setattr(survivor, field, getattr(other, field))
        if others:
            ids = [other.pk for other in others]
            Paper.objects.filter(organization_id__in=ids).update(organization_id=survivor.pk, updated_at=now)
            Organization.objects.filter(pk__in=ids).delete()
        base = slug_for(survivor.name, survivor.fullname)
        slug, n = base, 1
        while slug in slugs:
            n += 1
            slug = f"{base}-{n}"
        slugs.add(slug)
        survivor.slug = slug
        survivor.save(update_fields=["slug", "fullname", "avatar_url", "hf_id"])
        keys = set().union(*(keys_of[m.pk] for m in members)) | {f"s:{slug}"}
        aliases += [Alias(key=key, organization_id=survivor.pk) for key in sorted(keys)]
    Alias.objects.bulk_create(aliases, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("papers", "0004_organization_slug_and_aliases"),
    ]

    operations = [
        migrations.RunPython(fold_organizations, migrations.RunPython.noop),
    ]
