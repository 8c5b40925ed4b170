"""The login limits, where every login form checks a password.

Django's ``authenticate()`` asks each backend in ``AUTHENTICATION_BACKENDS`` in turn; this one
comes first, counts the attempt per client address and per account name, and either passes
(returns None, so that ModelBackend checks the password) or raises ``RateLimited``, which
``RateLimitMiddleware`` answers with 429. Being in the one place every password check goes
through, it covers the site's login, the admin's and any later form without each view having to
remember it. The attempt is counted before the password is looked at: over a limit, even the
right password waits for the window to end, so that guessing gains nothing from the answer.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest

from paperwire.core.limits import RateLimited, ip_key, longest_wait, named_key


class LoginAttemptLimit:
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password=None, **credentials):
        if request is None:  # not an HTTP login (a management command, a test's client.login)
            return None
        name = username if username is not None else credentials.get(get_user_model().USERNAME_FIELD, "")
        seconds = longest_wait(("login", ip_key(request)), ("login_account", named_key(name or "")))
        if seconds:
            raise RateLimited(seconds, "login attempts")
        return None
