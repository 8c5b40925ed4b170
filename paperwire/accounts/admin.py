from django import forms
from django.contrib import admin
from django.contrib.auth.models import User

from paperwire.accounts.addresses import AddressField
from paperwire.accounts.forms import AccountChangeForm
from paperwire.accounts.models import ApiToken, VerifiedEmail
from paperwire.accounts.tokens import revoke_token
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


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Members' API tokens (docs/security.md, "API tokens"): staff see them by their first
    characters and revoke one that leaked; the secret is never stored, so never shown."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("prefix", "name", "user__username")
    list_select_related = ("user",)
    fields = ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # made by their owner, on the settings page, where the secret is shown once

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = sum(revoke_token(token.user, token.pk) is not None for token in queryset.filter(revoked_at=None))
        self.message_user(request, f"Revoked {revoked} token{'s' if revoked != 1 else ''}: they no longer work.")


admin.site.unregister(User)


@admin.register(User)
class AccountAdmin(ModeratedUserAdmin):
    """The moderators' account admin, with the site's rule for the address (an address changed here
    also retires the subscription links the account could see: paperwire/accounts/models.py)."""

    form = AccountChangeForm
