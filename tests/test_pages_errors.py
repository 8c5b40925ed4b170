"""Error pages: the site's layout and plain words for a person, the JSON shape for an API client,
whatever answered (Django's CSRF check or method checks, the handlers), and drawn even when the
request or the database fails again while drawing them."""

import pytest
from django.db import connection, transaction
from django.test import Client

pytestmark = pytest.mark.django_db

LAYOUT = ('<header class="site-header">', 'rel="stylesheet" href="/static/paperwire/paperwire.css"')


def assert_site_page(response, status: int, *texts: str) -> str:
    html = response.content.decode()
    assert response.status_code == status, (response.status_code, html[:500])
    assert response["Content-Type"] == "text/html; charset=utf-8"
    for text in LAYOUT + texts:
        assert text in html, text
    assert "<style" not in html and " style=" not in html
    return html


def form_client() -> Client:
    """A browser that loaded the subscription form: it holds the form's CSRF cookie."""
    client = Client(enforce_csrf_checks=True)
    assert client.get("/subscribe").status_code == 200
    return client


def test_a_form_whose_token_no_longer_matches(db):
    response = form_client().post(
        "/subscribe",
        {"email": "reader@example.org", "csrfmiddlewaretoken": "x" * 32},
        HTTP_REFERER="http://testserver/subscribe?from=mail&x=1",
    )
    html = assert_site_page(
        response,
        403,
        "<title>This form could not be sent · Paperwire</title>",
        "The form was open too long, or you logged in or out in another tab",
        "Go back, reload the page and send the form again.",
        '<a class="button" href="/subscribe?from=mail&amp;x=1">Back to the form</a>',
    )
    assert "cookie" in html and "CSRF verification failed" not in html


def test_a_form_sent_without_the_cookie(db):
    response = Client(enforce_csrf_checks=True).post(
        "/subscribe", {"email": "reader@example.org"}, HTTP_REFERER="http://testserver/subscribe"
    )
    assert_site_page(
        response,
        403,
        "Your browser did not send this site's cookie.",
        "Allow cookies for this site, then go back, reload the page and send the form again.",
        '<a class="button" href="/subscribe">Back to the form</a>',
    )


@pytest.mark.parametrize(
    "referer",
    [
        "",
        "https://evil.example/subscribe",
        "http://evil.example/subscribe",
        "http://testserver.evil.example/subscribe",
        "//evil.example/subscribe",
        "http://testserver//evil.example/subscribe",
        "http://testserver/\\evil.example/subscribe",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "http://user@evil.example/",
        "data:text/html,hello",
    ],
)
def test_the_way_back_leads_only_to_a_page_of_the_site(db, referer):
    response = form_client().post("/subscribe", {"csrfmiddlewaretoken": "x" * 32}, HTTP_REFERER=referer)
    html = assert_site_page(response, 403, "This form could not be sent", '<a href="/">Back to Daily Papers</a>')
    assert "Back to the form" not in html
    assert "evil" not in html and "javascript" not in html


def test_a_failed_csrf_check_is_json_for_a_script(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/papers/2507.00001/vote", HTTP_ACCEPT="application/json")
    assert (response.status_code, response.json()) == (403, {"error": "CSRF check failed: CSRF cookie not set"})
    client.cookies["csrftoken"] = "y" * 32
    response = client.post("/papers/2507.00001/vote", {"csrfmiddlewaretoken": "x" * 32}, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert response.json() == {"error": "CSRF check failed: CSRF token from POST incorrect"}


def test_a_method_django_refuses_is_the_sites_page(alice):
    response = Client().get("/papers/2507.00001/vote")
    assert_site_page(
        response,
        405,
        "<h1>Method not allowed</h1>",
        "This address only takes forms sent from the pages of this site: there is no page to visit here.",
    )
    assert response["Allow"] == "POST"
    response = Client().delete("/accounts/login")  # a class-based view's own 405
    assert_site_page(response, 405, "This address does not answer DELETE requests.")
    assert "GET" in response["Allow"]
    head = Client().head("/papers/2507.00001/vote")
    assert (head.status_code, head.content, head["Allow"]) == (405, b"", "POST")
    as_script = Client().get("/papers/2507.00001/vote", HTTP_ACCEPT="application/json")
    assert (as_script.status_code, as_script.json()) == (405, {"error": "method GET not allowed"})


def test_a_query_django_will_not_parse_is_a_400_page(db):
    """The error page reads the query as well (the search box): it must not fail in turn."""
    many = "&".join(f"p{n}=1" for n in range(1001))
    assert_site_page(Client().get(f"/papers/trending?{many}"), 400, "<h1>Bad request</h1>")
    assert Client().get(f"/api/daily_papers?{many}").json() == {"error": "too many parameters"}


class Undo(Exception):
    pass


def test_an_internal_error_page_without_the_database(alice):
    """The database fails for the page and for the signed-in visitor's session alike: the error
    page is drawn as for an anonymous visitor."""
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    with pytest.raises(Undo), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE django_session RENAME TO django_session_gone")
            cursor.execute("ALTER TABLE papers_paper RENAME TO papers_paper_gone")
        response = client.get("/papers/2507.00001")
        raise Undo
    html = assert_site_page(response, 500, "<h1>Something broke</h1>", "The error has been logged.")
    assert ">Log in</a>" in html


def test_health_says_when_the_static_files_were_not_collected(client, db):
    """Outside `paperwire serve` (tests, a shell) nothing is collected, and that is no damage."""
    body = client.get("/healthz").json()
    assert body["static"] == {"status": "not collected"}
    assert "static" not in body["reason"]
