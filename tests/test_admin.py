"""Moderation through Django's admin: hide papers, remove votes, ban users."""

import pytest
from django.contrib.auth.models import User

from paperwire.ingest.importer import import_files
from paperwire.papers.models import Paper, Vote, set_vote
from tests.conftest import paper, write_jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "a long pass phrase 42")
    client.force_login(admin)
    return client


@pytest.fixture
def voted(tmp_path, alice, bob):
    import_files(
        [write_jsonl(tmp_path / "p.jsonl", [paper("2401.00001", upvotes=1), paper("2401.00002")])], progress=False
    )
    for user in (alice, bob):
        set_vote(user, Paper.objects.get(pk="2401.00001"), True)


def test_hiding_a_paper(staff, voted):
    response = staff.post("/admin/papers/paper/", {"action": "hide", "_selected_action": ["2401.00001"]})
    assert response.status_code == 302
    assert Paper.objects.get(pk="2401.00001").hidden
    assert staff.get("/papers/2401.00001").status_code == 404


def test_removing_a_vote_recounts(staff, voted, alice):
    vote = Vote.objects.get(user=alice)
    staff.post("/admin/papers/vote/", {"action": "remove_votes", "_selected_action": [vote.pk]})
    assert Paper.objects.get(pk="2401.00001").upvotes == 2
    assert not Vote.objects.filter(user=alice).exists()


def test_banning_a_user_removes_their_votes_and_login(staff, voted, bob, client):
    staff.post("/admin/auth/user/", {"action": "ban", "_selected_action": [bob.pk]})
    assert not User.objects.get(pk=bob.pk).is_active
    assert Paper.objects.get(pk="2401.00001").upvotes == 2
    assert not client.login(username="bob", password="correct horse battery")


def test_the_admin_is_for_staff_only(client, alice):
    client.force_login(alice)
    assert client.get("/admin/papers/paper/").status_code == 302
