from django import forms
from django.contrib import admin
from django.contrib.auth.models import User

from paperwire.accounts.addresses import AddressField
from paperwire.accounts.forms import AccountChangeForm
from paperwire.accounts.models import VerifiedEmail
from paperwire.papers.admin import ModeratedUserAdmin


class VerifiedEmailForm(forms.ModelForm):
    email = AddressField()

    class Meta:
        model = VerifiedEmail
        fields = ("user", "email", "verified_at")


@admin.register(VerifiedEmail)
class VerifiedEmailAdmin(admin.ModelAdmin):
    """Which account owns which address; deleting a row makes the account verify again."""

    form = VerifiedEmailForm
    list_display = ("email", "user", "verified_at")
    search_fields = ("email", "user__username")
    raw_id_fields = ("user",)


admin.site.unregister(User)


@admin.register(User)
class AccountAdmin(ModeratedUserAdmin):
    """The moderators' account admin, with the site's rule for the address (an address changed here
    also retires the subscription links the account could see: paperwire/accounts/models.py)."""

    form = AccountChangeForm
