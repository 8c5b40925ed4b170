"""Subscribing (double opt-in), managing, one-click unsubscribing, the web version, staff preview."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib

from django import forms
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from paperwire.accounts.addresses import AddressField, canonical_email, mailbox_key
from paperwire.accounts.models import verified_email
from paperwire.core.limits import client_key, link_key, longest_wait, retry_after
from paperwire.core.siteurl import absolute
from paperwire.digests.content import Digest, DigestPeriod, PeriodPapers, TopicSection, build_digest
from paperwire.digests.emails import confirmation_message, new_links_message, subscriber_links
from paperwire.digests.models import FREQUENCIES, Delivery, ShownPaper, Subscriber, new_link_secret, topic_lines
from paperwire.digests.tokens import read_confirmation, read_subscriber_token
from paperwire.operations.ratelimit import limit_writes, too_many
from paperwire.papers.periods import InvalidPeriod

log = logging.getLogger(__name__)


class SubscribeForm(forms.Form):
    email = AddressField()
    frequency = forms.ChoiceField(choices=FREQUENCIES, initial="daily", widget=forms.RadioSelect)
    topics = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional: saved searches, one a line, e.g. “diffusion models for video”.",
    )

    def clean_topics(self) -> str:
        return "\n".join(topic_lines(self.cleaned_data["topics"]))


class ManageForm(forms.Form):
    frequency = forms.ChoiceField(choices=FREQUENCIES, widget=forms.RadioSelect)
    topics = SubscribeForm.base_fields["topics"]

    clean_topics = SubscribeForm.clean_topics


@require_http_methods(["GET", "HEAD", "POST"])
@limit_writes("subscribe")
def subscribe(request: HttpRequest) -> HttpResponse:
    initial = {"email": request.user.email} if request.user.is_authenticated else {}
    form = SubscribeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        email = canonical_email(form.cleaned_data["email"])
        try:
            request_subscription(email, form.cleaned_data["frequency"], form.cleaned_data["topics"], request.user)
        except (smtplib.SMTPException, OSError):  # the mail server failed, or was silent for EMAIL_TIMEOUT
            log.warning("could not send a subscription confirmation", exc_info=True)
            context = {
                "title": "Please try again",
                "message": "We could not send the confirmation message just now. Please try again in a few minutes.",
            }
            return render(request, "digests/message.html", context, status=503)
        # The same answer whether the address is new, pending, confirmed or over its mail limit,
        # and whether or not a mail went out: nothing is revealed.
        return render(request, "digests/check_inbox.html", {"email": email})
    return render(request, "digests/subscribe.html", {"form": form})


def request_subscription(email: str, frequency: str, topics: str, user) -> None:
    """Send at most one confirmation. The requested settings travel in the signed link and apply
    on confirmation, so a stranger cannot change someone else's subscription.

    ``email`` is canonical: one row per address (a unique key, so racing requests share it). The
    right to send is claimed on that row with one conditional update before anything is sent,
    so that of any number of requests at once, one sends; then the mailbox's limit
    (``subscribe_address``) must allow a mail. Nothing sent (a claim lost, the limit reached,
    the mail server failing) leaves the row as it was, and says nothing different."""
    subscriber, _ = Subscriber.objects.get_or_create(email=email, defaults={"frequency": frequency, "topics": topics})
    # Only an account that proved it receives mail at the address is attached to its subscription.
    if user is not None and verified_email(user) == email and subscriber.user_id is None:
        Subscriber.objects.filter(pk=subscriber.pk, user=None).update(user=user)
    now = timezone.now()
    interval = dt.timedelta(minutes=settings.DIGEST_CONFIRMATION_INTERVAL_MINUTES)
    claimable = Q(confirmation_sent_at__isnull=True) | Q(confirmation_sent_at__lte=now - interval)
    if not Subscriber.objects.filter(claimable, pk=subscriber.pk).update(confirmation_sent_at=now):
        return  # one confirmation per interval, however often (and however simultaneously) asked
    unclaim = Subscriber.objects.filter(pk=subscriber.pk, confirmation_sent_at=now)
    if retry_after("subscribe_address", mailbox_key(email)):
        unclaim.update(confirmation_sent_at=None)
        return
    try:
        confirmation_message(subscriber, frequency, topics).send()
    except BaseException:
        unclaim.update(confirmation_sent_at=None)  # the next request sends it at once
        raise


def link_expired(request: HttpRequest, what_to_do: str) -> HttpResponse:
    """410 for a signed link past its age (confirmation, verification), saying how to get a new one."""
    context = {"title": "This link has expired", "message": what_to_do}
    return render(request, "digests/message.html", context, status=410)


@require_http_methods(["GET", "HEAD", "POST"])
@limit_writes("link", per={"link": link_key})
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners follow links), POST confirms."""
    try:
        data = read_confirmation(token)
    except signing.SignatureExpired:
        return link_expired(request, "Subscribe again to get a fresh confirmation link.")
    except signing.BadSignature:
        raise Http404("Invalid confirmation link") from None
    subscriber = get_object_or_404(Subscriber, pk=data["id"], email=data["email"])
    if request.method == "POST":
        subscriber.frequency = data["frequency"]
        subscriber.topics = data["topics"]
        subscriber.state = Subscriber.CONFIRMED
        subscriber.confirmed_at = timezone.now()
        subscriber.unsubscribed_at = None
        subscriber.bouncing, subscriber.bounces = False, 0
        subscriber.save(
            update_fields=["frequency", "topics", "state", "confirmed_at", "unsubscribed_at", "bouncing", "bounces"]
        )
        # Every confirmation starts new links: those of an earlier subscription (or leaked from
        # one) stop working. Of two confirmations at once (a double click), one replaces them.
        Subscriber.objects.filter(pk=subscriber.pk, link_secret=subscriber.link_secret).update(
            link_secret=new_link_secret()
        )
        subscriber.refresh_from_db(fields=["link_secret"])
        links = subscriber_links(subscriber)
        return render(
            request,
            "digests/message.html",
            {
                "title": "You are subscribed",
                "message": f"You will get the {subscriber.frequency} digest at {subscriber.email}.",
                "manage_url": links["manage_url"],
            },
        )
    return render(request, "digests/confirm.html", {"data": data, "topics": topic_lines(data["topics"])})


def subscriber_from(token: str) -> Subscriber | None:
    """The subscriber of a current manage, unsubscribe or web-version link; None for a link that
    is forged or was replaced."""
    try:
        return read_subscriber_token(token)
    except signing.BadSignature:
        return None


def retired_link(request: HttpRequest) -> HttpResponse:
    """One answer for every subscriber link that no longer works, replaced or never valid."""
    return link_expired(
        request,
        "Links to a subscription are replaced when new ones are asked for or the subscription is "
        "confirmed again. Use the links in the newest message we sent you, or ask for new ones by "
        f"subscribing again at {absolute(reverse('subscribe'))}.",
    )


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs with no session and no token
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = subscriber_from(token)
    if subscriber is None:
        return retired_link(request)
    if request.method == "POST":
        # RFC 8058: the mail provider posts one-click unsubscribes from its own addresses, for
        # many people at once: counted per subscription (a current link), never per client.
        if seconds := retry_after("link", f"subscriber:{subscriber.pk}"):
            return too_many(request, seconds)
        if subscriber.state != Subscriber.UNSUBSCRIBED:
            Subscriber.objects.filter(pk=subscriber.pk).update(
                state=Subscriber.UNSUBSCRIBED, unsubscribed_at=timezone.now()
            )
            Delivery.objects.filter(subscriber=subscriber, state__in=[Delivery.PENDING, Delivery.RETRY]).update(
                state=Delivery.SKIPPED
            )
        return render(
            request,
            "digests/message.html",
            {
                "title": "You are unsubscribed",
                "message": f"{subscriber.email} will get no more digests. You can subscribe again at any time.",
            },
        )
    return render(request, "digests/unsubscribe.html", {"subscriber": subscriber})


@require_http_methods(["GET", "HEAD", "POST"])
@limit_writes("link", per={"link": link_key})
def manage(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = subscriber_from(token)
    if subscriber is None:
        return retired_link(request)
    form = ManageForm(request.POST or None, initial={"frequency": subscriber.frequency, "topics": subscriber.topics})
    saved = False
    if request.method == "POST" and form.is_valid():
        subscriber.frequency = form.cleaned_data["frequency"]
        subscriber.topics = form.cleaned_data["topics"]
        subscriber.save(update_fields=["frequency", "topics"])
        saved = True
    return render(
        request, "digests/manage.html", {"subscriber": subscriber, "form": form, "saved": saved, "token": token}
    )


@require_POST
def new_links(request: HttpRequest, token: str) -> HttpResponse:
    """Replace the subscriber's links and mail the new ones to the address, never to the page:
    whoever holds a leaked link can retire it, but not take the subscription with them.

    The new secret is claimed before the mail goes (so that two requests at once cannot mail
    links that never worked), and given back if the mail cannot be sent: the person keeps the
    links they have."""
    subscriber = subscriber_from(token)
    if subscriber is None:
        return retired_link(request)
    if subscriber.state != Subscriber.CONFIRMED:
        # Nothing is mailed to an address that gets no digest: its links are retired, and
        # subscribing again (a confirmation to the address) gives new ones.
        subscriber.replace_links()
        context = {
            "title": "Your links are replaced",
            "message": f"The links you had to the subscription of {subscriber.email} no longer work. It gets no "
            "digest now; subscribe again to get one, with new links.",
        }
        return render(request, "digests/message.html", context)
    seconds = longest_wait(("subscribe", client_key(request)), ("subscribe_address", mailbox_key(subscriber.email)))
    if seconds:
        return too_many(request, seconds, f"mails to {subscriber.email}")
    old = subscriber.link_secret
    subscriber.link_secret = new_link_secret()
    if not Subscriber.objects.filter(pk=subscriber.pk, link_secret=old).update(link_secret=subscriber.link_secret):
        return retired_link(request)  # replaced by another request a moment ago
    try:
        new_links_message(subscriber).send()
    except (smtplib.SMTPException, OSError):
        log.warning("could not send new subscription links", exc_info=True)
        Subscriber.objects.filter(pk=subscriber.pk, link_secret=subscriber.link_secret).update(link_secret=old)
        context = {
            "title": "Please try again",
            "message": "We could not send the message just now; your links are unchanged. Try again in a few minutes.",
        }
        return render(request, "digests/message.html", context, status=503)
    context = {
        "title": "Check your inbox",
        "message": f"We mailed a new link to {subscriber.email}. The links you had before, this one "
        "included, no longer work.",
    }
    return render(request, "digests/message.html", context)


def render_digest_page(request: HttpRequest, digest: Digest, title: str) -> HttpResponse:
    links = subscriber_links(digest.subscriber)
    return render(
        request,
        "digests/web.html",
        {"digest": digest, "title": title, **links},
    )


@require_safe
def web_version(request: HttpRequest, token: str, period: str) -> HttpResponse:
    """The digest as it was sent, from the record of the papers it showed."""
    subscriber = subscriber_from(token)
    if subscriber is None:
        return retired_link(request)
    try:
        digest_period = DigestPeriod.from_key(period)
    except (ValueError, KeyError, InvalidPeriod):
        raise Http404("No such digest") from None
    delivery = get_object_or_404(Delivery, subscriber=subscriber, period=period, state=Delivery.SENT)
    digest = Digest(subscriber, digest_period)
    sections: dict[str, TopicSection] = {}
    for shown in ShownPaper.objects.filter(delivery=delivery).select_related("paper").order_by("topic", "position"):
        if shown.followed:
            digest.following.append(shown.paper)
        elif shown.topic:
            sections.setdefault(shown.topic, TopicSection(shown.topic)).papers.append(shown.paper)
        else:
            digest.top.append(shown.paper)
    ordered = [t for t in subscriber.topic_list if t in sections] + [
        t for t in sections if t not in subscriber.topic_list
    ]
    digest.topics = [sections[t] for t in ordered]
    return render_digest_page(request, digest, f"Your {digest_period.frequency} digest")


@staff_member_required
def preview(request: HttpRequest) -> HttpResponse:
    """The digest a subscriber would get now for a period (nothing is recorded)."""
    subscriber = get_object_or_404(Subscriber, email=canonical_email(request.GET.get("email", "")))
    frequency = request.GET.get("frequency") or subscriber.frequency
    if frequency not in ("daily", "weekly"):
        raise Http404("Unknown frequency")
    try:
        day = dt.date.fromisoformat(request.GET["date"]) if request.GET.get("date") else None
    except ValueError:
        raise Http404("Invalid date") from None
    period = (
        DigestPeriod.containing(frequency, day) if day else DigestPeriod.last_complete(frequency, timezone.now().date())
    )
    return render_digest_page(request, build_digest(subscriber, PeriodPapers(period)), "Preview")
