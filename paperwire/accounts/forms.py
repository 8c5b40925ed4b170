from django.contrib.auth.forms import PasswordResetForm, UserChangeForm, UserCreationForm
from django.contrib.auth.models import User

from paperwire.accounts.addresses import AddressField


class SignupForm(UserCreationForm):
    """Says whether a username is taken (usernames are public), never whether an address has an
    account: a taken address signs up like any other and its owner gets a note (docs/security.md)."""

    email = AddressField(required=True, help_text="We mail it a link to verify it. Never shown to others.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class AddressPasswordResetForm(PasswordResetForm):
    """Django's form, with the site's rule for addresses (paperwire/accounts/addresses.py)."""

    email = AddressField(label="Email", widget=PasswordResetForm.base_fields["email"].widget)


class AccountChangeForm(UserChangeForm):
    """The admin's account form: an address changed there follows the same rule as sign-up's."""

    email = AddressField(required=False, label="Email address")
