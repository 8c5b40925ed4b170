"""Notification mails' pages: the settings form (on /accounts/settings) and the unsubscribe link
of every notification mail (RFC 8058 one-click POST; opened in a browser, a page to confirm)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from paperwire.core.limits import retry_after
from paperwire.digests.models import NotificationSettings
from paperwire.digests.notify import turn_off
from paperwire.digests.tokens import read_notification_token
from paperwire.operations.ratelimit import limit_writes, too_many
from paperwire.web.digests import link_expired


class NotificationForm(forms.ModelForm):
    class Meta:
        model = NotificationSettings
        fields = ("replies", "paper_comments")
        labels = {
            "replies": "Replies to my comments",
            "paper_comments": "New comments on papers I submitted or authored",
        }
        help_texts = {"replies": "", "paper_comments": ""}


def settings_of(user) -> NotificationSettings:
    """The user's settings as saved, or the defaults (nothing is written by reading them)."""
    return NotificationSettings.objects.filter(user=user).first() or NotificationSettings(user=user)


@login_required
@require_POST
@limit_writes("link", what="changes")
def save_settings(request: HttpRequest) -> HttpResponse:
    row = NotificationSettings.of(request.user)
    form = NotificationForm(request.POST, instance=row)
    if form.is_valid():  # two check boxes: always valid (an absent box is off)
        form.save()
        messages.success(request, "Your notification settings are saved.")
    return redirect("account_settings")  # the page's top, where the message is


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs with no session and no token
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        row = read_notification_token(token)
    except signing.BadSignature:
        return link_expired(
            request, "This link is not a current notification link. Change your notifications on your account's page."
        )
    settings_url = reverse("account_settings") + "#notifications"
    if request.method == "POST":
        # Posted by mail providers for many people from one address: counted per person only.
        if seconds := retry_after("link", f"notifications:{row.pk}"):
            return too_many(request, seconds)
        turn_off(row)
        return render(
            request,
            "digests/notifications_off.html",
            {"account": row.user, "settings_url": settings_url},
        )
    return render(
        request,
        "digests/notifications_unsubscribe.html",
        {"account": row.user, "row": row, "settings_url": settings_url},
    )
