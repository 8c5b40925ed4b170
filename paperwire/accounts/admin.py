from django.contrib import admin

from paperwire.accounts.models import VerifiedEmail


@admin.register(VerifiedEmail)
class VerifiedEmailAdmin(admin.ModelAdmin):
    """Which account owns which address; deleting a row makes the account verify again."""

    list_display = ("email", "user", "verified_at")
    search_fields = ("email", "user__username")
    raw_id_fields = ("user",)
