"""Requests racing for one name or one address, each in its own thread with its own database
connection, through Django's whole HTTP stack (and a real SMTP server for the mails).

To make the race happen every time rather than now and then, the racers are held at the point
that matters: after each has checked that the username is free (a barrier on that query,
through Django's ``execute_wrapper``), or while the mail server holds back its answer to the
first confirmation (the SMTP server of tests/conftest.py)."""

import re
import threading

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from paperwire.accounts.models import VerifiedEmail
from paperwire.digests.models import Subscriber

PASSWORD = "a long pass phrase 42"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def in_threads(*calls):
    """Run each call in its own thread (own database connection); their results, in order."""
    results: list = [None] * len(calls)
    errors: list = []

    def run(n, call):
        try:
            results[n] = call()
        except BaseException as error:  # noqa: BLE001 (reported to the test below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def held_after_the_username_check(barrier: threading.Barrier):
    """An execute wrapper: after the query that checks a username is free, wait for the other
    racer to have made the same check."""

    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("SELECT 1") and '"auth_user"' in sql and "username" in sql:
            barrier.wait()
        return result

    return wrapper


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("names", [("dana", "dana"), ("Dana", "dana")], ids=["same", "other-case"])
def test_racing_sign_ups_for_one_username_make_one_account(names, settings):
    settings.BASE_URL = "http://testserver"
    barrier = threading.Barrier(2, timeout=60)

    def sign_up(n):
        client = Client(raise_request_exception=False, REMOTE_ADDR=f"10.7.0.{n}")
        with connection.execute_wrapper(held_after_the_username_check(barrier)):
            response = client.post(
                "/accounts/signup",
                {"username": names[n], "email": f"dana{n}@example.org", "password1": PASSWORD, "password2": PASSWORD},
            )
        return response.status_code, response.content.decode(), response.get("Location")

    results = in_threads(lambda: sign_up(0), lambda: sign_up(1))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 302], [(s, body[:300]) for s, body, _ in results]
    (lost,) = [body for status, body, _ in results if status == 200]
    assert "A user with that username already exists." in lost and "<form" in lost
    (winner,) = User.objects.filter(username__iexact="dana")
    assert User.objects.count() == 1
    assert not VerifiedEmail.objects.exists() and not Subscriber.objects.exists()
    assert [m.to for m in mail.outbox] == [[winner.email]]  # the loser's address got nothing


@pytest.mark.django_db(transaction=True)
def test_racing_subscriptions_for_one_address_make_one_row_and_send_one_mail(smtp_server, settings):
    """The first request's confirmation is stored by the mail server, which holds back its answer:
    meanwhile the second request for the same address comes and goes."""
    settings.BASE_URL = "http://testserver"
    smtp_server.handler.hold_at, smtp_server.handler.hold_seconds = 1, 4.0

    def subscribe(email, address="10.8.0.1"):
        response = Client(raise_request_exception=False, REMOTE_ADDR=address).post(
            "/subscribe", {"email": email, "frequency": "daily"}
        )
        return response.status_code, response.content.decode()

    results: list = []
    first = threading.Thread(target=lambda: results.append(subscribe("racer@example.org")))
    first.start()
    assert smtp_server.handler.held.wait(timeout=60)
    second = subscribe("Racer@Example.org", "10.8.0.2")
    first.join(timeout=60)
    connection.close()
    assert [results[0][0], second[0]] == [200, 200]
    assert CSRF.sub("", results[0][1]) == CSRF.sub("", second[1])  # the same answer both times
    assert Subscriber.objects.filter(email="racer@example.org").count() == Subscriber.objects.count() == 1
    assert len(smtp_server.handler.to("racer@example.org")) == 1


def username_index_exists() -> bool:
    with connection.cursor() as cursor:
        return any(
            "accounts_username_upper_uniq" == name
            for name in connection.introspection.get_constraints(cursor, User._meta.db_table)
        )


def test_the_upgrade_makes_usernames_unique_ignoring_case_or_says_why_not(transactional_db, capfd):
    executor = MigrationExecutor(connection)
    # After: every app's leaf (those standing on accounts' migrations were undone too).
    before, after = [("accounts", "0001_verified_email")], executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    assert not username_index_exists()
    User.objects.create_user("Eve", "eve@example.org")
    User.objects.create_user("eve", "eve2@example.org")  # made before the database could refuse it
    MigrationExecutor(connection).migrate(after)
    warning = capfd.readouterr().err
    assert "usernames that differ only in letter case exist (" in warning and "renamed in /admin/" in warning
    assert not username_index_exists()

    User.objects.filter(username="eve").update(username="eve2")  # the operator renames one
    MigrationExecutor(connection).migrate(before)
    MigrationExecutor(connection).migrate(after)
    assert username_index_exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("EVE", "eve3@example.org")
