"""Staff's side of authors: the queue of claims (approve, reject) and the authors (unlink an
account)."""

from django.contrib import admin, messages
from django.utils.html import format_html

from paperwire.accounts.models import verified_email
from paperwire.people.claims import ClaimRefused, approve, reject, unlink
from paperwire.people.models import Author, AuthorClaim


class WaitingFirst(admin.SimpleListFilter):
    """The queue opens on the claims waiting for a decision."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [*AuthorClaim.STATES, ("all", "all")]

    def choices(self, changelist):
        value = self.value() or AuthorClaim.PENDING
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or AuthorClaim.PENDING
        return queryset if value == "all" else queryset.filter(state=value)


@admin.register(AuthorClaim)
class AuthorClaimAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "address", "claimed_name", "author_page", "paper", "state", "decided_by")
    list_filter = (WaitingFirst,)
    search_fields = ("user__username", "user__email", "author__name", "name", "paper__id")
    ordering = ("created_at",)
    list_select_related = ("user", "author__user", "paper", "decided_by")
    readonly_fields = ("user", "author", "paper", "name", "state", "created_at", "decided_at", "decided_by")
    fields = (*readonly_fields, "note")
    actions = ["approve_claims", "reject_claims"]

    def has_add_permission(self, request) -> bool:
        return False  # claims come from their users

    @admin.display(description="verified address")
    def address(self, claim) -> str:
        return verified_email(claim.user) or "(not verified)"

    @admin.display(description="name on the paper")
    def claimed_name(self, claim) -> str:
        return claim.name

    @admin.display(description="author")
    def author_page(self, claim) -> str:
        holder = f" (linked to {claim.author.user.get_username()})" if claim.author.user_id else ""
        return format_html('<a href="{}">{}</a>{}', claim.author.get_absolute_url(), claim.author.name, holder)

    @admin.action(description="Approve: link each author to the account that claimed it")
    def approve_claims(self, request, queryset):
        self._decide(request, queryset, lambda claim: approve(claim, request.user), "Approved")

    @admin.action(description="Reject the selected claims")
    def reject_claims(self, request, queryset):
        self._decide(request, queryset, lambda claim: reject(claim, request.user), "Rejected")

    def _decide(self, request, queryset, decide, done: str) -> None:
        decided = 0
        for claim in queryset.select_related("author", "user").order_by("created_at"):
            try:
                decide(claim)
                decided += 1
            except ClaimRefused as refusal:
                self.message_user(request, f"{claim.user} as “{claim.author.name}”: {refusal}", messages.ERROR)
        if decided:
            self.message_user(request, f"{done} {decided} claim{'s' if decided != 1 else ''}.", messages.SUCCESS)


@admin.register(Author)
class AuthorAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "user", "same_as")
    list_filter = (("user", admin.EmptyFieldListFilter),)
    search_fields = ("name", "key", "slug", "user__username")
    list_select_related = ("user", "same_as")
    # Names, keys and matches come from the papers (paperwire.people.linking), slugs are set once.
    readonly_fields = ("name", "key", "slug", "family", "initials", "abbreviated", "same_as", "user", "claimed_at")
    actions = ["unlink_accounts"]

    def has_add_permission(self, request) -> bool:
        return False  # authors come from papers' names

    @admin.action(description="Unlink the account from the selected authors")
    def unlink_accounts(self, request, queryset):
        authors = list(queryset.filter(user__isnull=False))
        for author in authors:
            unlink(author)
        self.message_user(request, f"Unlinked {len(authors)} author{'s' if len(authors) != 1 else ''}.")
