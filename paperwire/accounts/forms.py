from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User


class SignupForm(UserCreationForm):
    """Says whether a username is taken (usernames are public), never whether an address has an
    account: a taken address signs up like any other and its owner gets a note (docs/security.md)."""

    email = forms.EmailField(
        required=True, max_length=254, help_text="We mail it a link to verify it. Never shown to others."
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
