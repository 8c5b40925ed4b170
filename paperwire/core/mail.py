"""A message of the site: a subject, a text and an HTML template rendered with the site's address."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from paperwire.core.siteurl import site_url


def message(
    template: str, context: dict, to: str, headers: dict | None = None, folder: str = "digests/email"
) -> EmailMultiAlternatives:
    """The message of a template triplet in ``folder``: <template>_subject.txt, .txt and .html."""
    context = {"base_url": site_url(), **context}
    subject = " ".join(render_to_string(f"{folder}/{template}_subject.txt", context).split())
    text = render_to_string(f"{folder}/{template}.txt", context)
    html = render_to_string(f"{folder}/{template}.html", context)
    email = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to], headers=headers or {})
    email.attach_alternative(html, "text/html")
    return email
