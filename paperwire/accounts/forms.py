import datetime as dt

from django.contrib.auth.forms import PasswordResetForm, UserChangeForm, UserCreationForm
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from paperwire.accounts.addresses import AddressField
from paperwire.accounts.models import verified_owner

RESET_ACCOUNTS = 10  # at most this many accounts' links in one reset message
DEMO_PREFIX = "demo-"  # the demo community's accounts (`paperwire demo`): not for people


class SignupForm(UserCreationForm):
    """Says whether a username is taken (usernames are public), never whether an address has an
    account: a taken address signs up like any other and its owner gets a note (docs/security.md)."""

    email = AddressField(required=True, help_text="We mail it a link to verify it. Never shown to others.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def clean_username(self):
        username = super().clean_username()
        if isinstance(username, str) and username.casefold().startswith(DEMO_PREFIX):
            raise ValidationError(
                f"Usernames starting with “{DEMO_PREFIX}” are kept for the demo community's accounts: choose another."
            )
        return username


class AddressPasswordResetForm(PasswordResetForm):
    """Django's form, with the site's rule for addresses (paperwire/accounts/addresses.py), and
    one message per request: an address that several accounts have (sign-up does not say an
    address is taken, so anyone can make them) gets one message with a link for each, the
    account that verified the address first, not a message per account."""

    email = AddressField(label="Email", widget=PasswordResetForm.base_fields["email"].widget)

    def save(
        self,
        domain_override=None,
        subject_template_name="registration/password_reset_subject.txt",
        email_template_name="registration/password_reset_email.html",
        use_https=False,
        token_generator=default_token_generator,
        from_email=None,
        request=None,
        html_email_template_name=None,
        extra_email_context=None,
    ) -> None:
        users = list(self.get_users(self.cleaned_data["email"]))
        if not users:
            return
        owner = verified_owner(self.cleaned_data["email"])
        never = dt.datetime.min.replace(tzinfo=dt.UTC)
        users.sort(key=lambda u: (u != owner, -(u.last_login or never).timestamp(), u.pk))
        accounts = [
            {"user": u, "uid": urlsafe_base64_encode(force_bytes(u.pk)), "token": token_generator.make_token(u)}
            for u in users[:RESET_ACCOUNTS]
        ]
        context = {**accounts[0], "accounts": accounts, **(extra_email_context or {})}
        self.send_mail(
            subject_template_name, email_template_name, context, from_email, users[0].email, html_email_template_name
        )


class AccountChangeForm(UserChangeForm):
    """The admin's account form: an address changed there follows the same rule as sign-up's."""

    email = AddressField(required=False, label="Email address")
