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


@pytest.fixture
def moderator(client, django_user_model):
    """A staff user (not a superuser) allowed to see and delete users and votes, logged in
    through the admin's own login form."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("mod", "mod@example.org", "a long pass phrase 43", is_staff=True)
    codenames = ["view_user", "delete_user", "change_user", "view_vote", "delete_vote"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "mod", "password": "a long pass phrase 43", "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    return client


def counts() -> tuple[int, int]:
    paper = Paper.objects.get(pk="2401.00001")
    return paper.upvotes, paper.votes.count()


def test_deleting_a_user_in_the_admin_takes_their_vote_off_the_count(moderator, voted, bob):
    assert counts() == (3, 2)  # 1 imported, and the votes of alice and bob
    page = moderator.get(f"/admin/auth/user/{bob.pk}/delete/")
    assert page.status_code == 200 and b"Are you sure" in page.content
    response = moderator.post(f"/admin/auth/user/{bob.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and response["Location"] == "/admin/auth/user/"
    assert not User.objects.filter(pk=bob.pk).exists()
    assert counts() == (2, 1)
    assert moderator.get("/api/papers/2401.00001").json()["upvotes"] == 2


def test_deleting_users_in_bulk_in_the_admin_takes_their_votes_off_the_count(moderator, voted, alice, bob):
    selected = {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk]}
    confirm = moderator.post("/admin/auth/user/", selected)
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    response = moderator.post("/admin/auth/user/", {**selected, "post": "yes"})
    assert response.status_code == 302
    assert counts() == (1, 0)


def test_deleting_votes_in_the_admin_recounts(moderator, voted, alice, bob):
    vote = Vote.objects.get(user=alice)
    response = moderator.post(f"/admin/papers/vote/{vote.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert counts() == (2, 1)
    other = Vote.objects.get(user=bob)
    selected = {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"}
    assert moderator.post("/admin/papers/vote/", selected).status_code == 302
    assert counts() == (1, 0)


def test_votes_deleted_by_any_code_are_taken_off_the_count(voted, alice, bob):
    """The shell, a cascade, a bulk delete: whatever deletes votes recounts their papers."""
    User.objects.filter(pk=alice.pk).delete()  # a cascade to alice's vote
    assert counts() == (2, 1)
    Vote.objects.filter(user=bob).delete()  # a bulk delete
    assert counts() == (1, 0)
    carol = User.objects.create_user("carol")
    set_vote(carol, Paper.objects.get(pk="2401.00002"), True)
    Paper.objects.filter(pk="2401.00002").delete()  # a paper deleted with its votes
    assert not Vote.objects.filter(user=carol).exists()
