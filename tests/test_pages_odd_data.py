"""Pages that odd data in the database cannot fail: every link a template builds from data, every
date it shows."""

import datetime as dt

import pytest

from paperwire.papers.models import Organization, Paper

pytestmark = pytest.mark.django_db


def test_odd_data_does_not_fail_the_pages_that_show_it(client, alice):
    """Rows the admin lets through: a paper id its URL pattern refuses, an organization without
    a slug, a day at the end of Python's calendar."""
    day = dt.date(2025, 7, 21)
    org = Organization.objects.create(name="Nameless", slug="")
    Paper.objects.create(id="my paper", title="Typed In The Admin", abstract="A", daily_date=day, organization=org)
    Paper.objects.create(id="2507.00009", title="At The End Of Time", abstract="B", daily_date=dt.date.max)
    for path in ("/papers/date/2025-07-21", "/papers/week/2025-W30", "/papers/month/2025-07", "/search?q=typed"):
        html = client.get(path).content.decode()
        assert 'href="/papers/my%20paper"><bdi>Typed In The Admin</bdi></a>' in html, path
        assert 'href="/orgs/"' in html, path
    assert client.get("/papers/my%20paper").status_code == 404  # its page cannot be reached: no 500
    home = client.get("/").content.decode()
    assert "December 31, 9999" in home and "At The End Of Time" in client.get("/papers/2507.00009").content.decode()
    assert client.get("/papers/date/9999-12-31").status_code == 404
    assert client.get("/papers/feed.rss").status_code == 200
    assert client.get("/papers/feed.atom").status_code == 200
    assert client.get("/orgs").status_code == 200
    client.force_login(alice)
    html = client.get("/papers/date/2025-07-21").content.decode()
    assert 'action="/papers/my%20paper/vote"' in html
    assert client.get("/papers/2507.00009").status_code == 200
    assert client.get("/").status_code == 200
