"""The account pages: sign up, log in and out, verify the address, reset the password, settings."""

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from paperwire.accounts.addresses import posted_mailbox
from paperwire.accounts.forms import AddressPasswordResetForm, SignupForm
from paperwire.accounts.models import canonical_email, verified_email
from paperwire.accounts.tokens import MAX_NAME_CHARS as MAX_TOKEN_NAME
from paperwire.accounts.tokens import TokenError, create_token, live_tokens, revoke_token
from paperwire.accounts.verification import confirm_address, read_verification_token, request_verification
from paperwire.core.limits import link_key
from paperwire.core.siteurl import absolute, site_url
from paperwire.digests.emails import subscriber_links
from paperwire.digests.models import Subscriber
from paperwire.operations.ratelimit import limit_writes, too_many
from paperwire.papers.models import site_path
from paperwire.people import profiles
from paperwire.people.following import feed_token
from paperwire.web.digests import link_expired
from paperwire.web.notifications import NotificationForm, settings_of
from paperwire.web.papers import redirect_next, safe_next

log = logging.getLogger(__name__)


@limit_writes("signup")
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
        except IntegrityError:
            # Another sign-up took the name between the form's check and this insert (the
            # database's unique keys, on the name and on its upper case, are the last word).
            form.add_error("username", form.instance.unique_error_message(type(form.instance), ["username"]))
            return render(request, "registration/signup.html", {"form": form, "next": safe_next(request, "")})
        try:
            request_verification(user)  # over the address's mail limit: nothing is sent, nothing is said
        except OSError:
            log.exception("Could not send the verification mail of account %s", user.pk)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        # The same answer whether or not another account has this address.
        messages.success(
            request, f"Welcome, {user.get_username()}! Follow the link we mail to {user.email} to verify your address."
        )
        return redirect_next(request, "/")
    return render(request, "registration/signup.html", {"form": form, "next": safe_next(request, "")})


class LoginView(auth_views.LoginView):
    """Limited per client address and per account by the LoginAttemptLimit backend, like the admin's."""

    redirect_authenticated_user = True

    def get_redirect_url(self):
        return safe_next(self.request, "")  # "": LOGIN_REDIRECT_URL


class LogoutView(auth_views.LogoutView):
    def get_redirect_url(self):
        return safe_next(self.request, "")  # "": LOGOUT_REDIRECT_URL


@method_decorator(
    limit_writes("password_reset", per={"password_reset_address": posted_mailbox("email")}, what="password resets"),
    name="dispatch",
)
class PasswordResetView(auth_views.PasswordResetView):
    form_class = AddressPasswordResetForm

    @property
    def extra_email_context(self):
        # The one source of the site's address (PAPERWIRE_BASE_URL when it is set, never then the
        # request's Host header), like every other mail's links.
        return {"base_url": site_url()}


# Per client only: the link's path ends in "set-password" for everyone once Django has moved the
# token to the session, and the user's part is guessable, so a count per link could be spent by
# someone else to stop a person's reset.
@method_decorator(limit_writes("link"), name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    pass


class ProfileForm(forms.Form):
    """The profile section of the settings page; the rules are paperwire.people.profiles'."""

    display_name = forms.CharField(
        label="Display name", required=False, max_length=profiles.DISPLAY_NAME_CHARS, strip=False
    )
    bio = forms.CharField(
        label="About you",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": profiles.BIO_CHARS}),
        help_text=f"Plain text, at most {profiles.BIO_CHARS:,} characters.",
    )
    links = forms.CharField(
        label="Links",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"Up to {profiles.MAX_LINKS} http:// or https:// addresses, one a line.",
    )
    public = forms.BooleanField(label="Show my profile page to everyone", required=False)
    upvotes_public = forms.BooleanField(label="List the papers I upvote on my profile", required=False)

    def clean(self):
        data = {k: self.data.get(k, "") for k in ("display_name", "bio", "links", "public", "upvotes_public")}
        try:
            self.values = profiles.clean_profile(data)
        except profiles.ProfileError as error:
            self.add_error(error.field, str(error))
        return self.cleaned_data


def profile_form(user, data=None) -> ProfileForm:
    profile = profiles.profile_of(user)
    initial = {
        "display_name": profile.display_name,
        "bio": profile.bio,
        "links": "\n".join(profile.links),
        "public": profile.public,
        "upvotes_public": profile.upvotes_public,
    }
    return ProfileForm(data, initial=initial, auto_id="profile_%s")


@require_safe  # a page to read: its forms post to resend_verification, edit_profile, rotate_feed
@login_required
@never_cache  # the private feed's secret address is on it
def account_settings(request):
    return settings_page(request)


def settings_page(request, form: ProfileForm | None = None, status: int = 200, **token_state):
    """The account's page: the profile (``form``: as posted, with its errors), the Following
    feed's address, and the digest subscription of its address, once the account has proved it
    receives mail there; before that, nothing about it (not even whether there is one)."""
    address = verified_email(request.user)
    # Exact match: both sides are canonical (lower-cased by Python). A database's case-insensitive
    # match is not the same: PostgreSQL's UPPER() makes the dotless "ı" an "I", so "victim@gıthub.io"
    # matched "victim@github.io".
    subscriber = Subscriber.objects.filter(email=address).first() if address else None
    manage_url = subscriber_links(subscriber)["manage_url"] if subscriber else ""
    context = {
        "verified": bool(address),
        "subscriber": subscriber,
        "manage_url": manage_url,
        "profile_form": form or profile_form(request.user),
        "feed_url": absolute(reverse("following_feed", args=[feed_token(request.user)])),
        "profile_url": site_path("profile", request.user.get_username(), "/u/{}"),
        "notification_form": NotificationForm(instance=settings_of(request.user)),
        "notification_minutes": settings.NOTIFY_INTERVAL_MINUTES,
    } | tokens_context(request.user, **token_state)
    return render(request, "registration/settings.html", context, status=status)


def tokens_context(user, **state) -> dict:
    """The settings page's section of API tokens: the live ones (name, when made and last used,
    the first characters), and ``state``: a new token's secret (shown once), or the error of the
    form that made or revoked one, with the name typed."""
    return {"tokens": list(live_tokens(user)), "max_token_name": MAX_TOKEN_NAME, **state}


def settings_with_tokens(request, status: int = 200, **state):
    """The settings page again (not a redirect: a new token's secret is shown on this answer only,
    never stored), kept out of every cache."""
    response = settings_page(request, status=status, **state)
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
@limit_writes("api_token", what="API tokens")
def create_api_token(request):
    """A new personal API token: its secret is on this answer, once."""
    name = request.POST.get("name", "")
    try:
        token, secret = create_token(request.user, name)
    except TokenError as error:
        return settings_with_tokens(request, 400, token_error=str(error), token_name=name[:MAX_TOKEN_NAME])
    return settings_with_tokens(request, new_token=token, new_secret=secret)


@login_required
@require_POST
def revoke_api_token(request, pk: int):
    token = revoke_token(request.user, pk)
    if token is None:
        raise Http404("You have no such API token.")
    messages.success(request, f"The token “{token.name}” ({token.prefix}…) is revoked: it no longer works.")
    return redirect("account_settings")  # the page's top, where the message is


@login_required
@require_POST
@limit_writes("verify_resend", what="verification mails")
def resend_verification(request):
    user = request.user
    if not user.email:
        messages.error(request, "Your account has no email address.")
    elif verified_email(user):
        messages.info(request, f"{user.email} is verified already.")
    else:
        try:
            seconds = request_verification(user)
        except OSError:
            log.exception("Could not send the verification mail of account %s", user.pk)
            messages.error(request, "The mail could not be sent just now; try again in a few minutes.")
        else:
            if seconds:
                return too_many(request, seconds, f"mails to {user.email}")
            messages.success(request, f"We sent a link to {user.email}: follow it to verify your address.")
    return redirect("account_settings")


@require_http_methods(["GET", "HEAD", "POST"])
@limit_writes("link", per={"link": link_key})
def verify_email(request, token: str):
    """GET shows what would be verified and a button (mail scanners follow links); POST verifies.
    No login needed: the link itself, mailed to the address, is the proof."""
    try:
        data = read_verification_token(token)
    except signing.SignatureExpired:
        return link_expired(request, "Ask for a new one on your account page.")
    except signing.BadSignature:
        raise Http404("Invalid link") from None
    user = get_user_model().objects.filter(pk=data["user"]).first()
    if user is None or canonical_email(user.email) != data["email"]:
        raise Http404("This link is for an address the account no longer has.")
    if request.method == "POST":
        if not confirm_address(user, data["email"]):
            message = f"{data['email']} is already verified by another account; {user.get_username()} stays unverified."
            return render(request, "digests/message.html", {"title": "Not verified", "message": message}, status=409)
        message = (
            f"The account {user.get_username()} can now claim its author names, receive notifications and "
            f"manage the digest of {data['email']}."
        )
        return render(request, "digests/message.html", {"title": "Your address is verified", "message": message})
    return render(request, "registration/verify.html", {"account": user, "email": data["email"]})
