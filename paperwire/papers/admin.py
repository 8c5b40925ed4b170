"""Moderation: hide papers, remove votes, ban users."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

from paperwire.papers.models import (
    Organization,
    Paper,
    Submission,
    Vote,
    content_changed,
    recount_once,
    users_banned,
)
from paperwire.papers.orgnames import alias_keys


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "daily_date", "upvotes", "organization", "hidden")
    list_filter = ("hidden",)
    search_fields = ("id", "title")
    date_hierarchy = "daily_date"
    readonly_fields = ("upvotes", "created_at", "updated_at")
    raw_id_fields = ("submitter", "organization")
    actions = ["hide", "unhide"]

    @admin.action(description="Hide the selected papers from every page and API")
    def hide(self, request, queryset):
        self.message_user(request, f"Hid {queryset.update(hidden=True)} papers.")
        content_changed()

    @admin.action(description="Show the selected papers again")
    def unhide(self, request, queryset):
        self.message_user(request, f"Showed {queryset.update(hidden=False)} papers.")
        content_changed()


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("user", "paper", "created_at")
    search_fields = ("user__username", "paper__id")
    raw_id_fields = ("user", "paper")
    actions = ["remove_votes"]

    # Deleted votes are recounted whatever deletes them (papers.models._vote_deleted); these
    # recount each paper once.
    @admin.action(description="Remove the selected votes and recount")
    def remove_votes(self, request, queryset):
        with recount_once():
            count, _ = queryset.delete()
        self.message_user(request, f"Removed {count} votes.")

    def delete_queryset(self, request, queryset):
        with recount_once():
            super().delete_queryset(request, queryset)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "fullname", "slug")
    search_fields = ("name", "fullname", "slug")
    readonly_fields = ("slug",)  # set once: renaming never moves the page

    def save_model(self, request, obj, form, change):
        if not obj.slug:
            obj.slug = Organization.objects.free_slug(obj.name, obj.fullname)
        super().save_model(request, obj, form, change)
        # Imports find it by its new names too (names another organization has stay theirs).
        obj.add_aliases(alias_keys(obj.name, obj.fullname, obj.hf_id) | {f"s:{obj.slug}"})


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("user", "arxiv_id", "state", "attempts", "last_error", "created_at")
    list_filter = ("state",)
    raw_id_fields = ("user", "paper")


admin.site.unregister(User)


@admin.register(User)
class ModeratedUserAdmin(UserAdmin):
    actions = ["ban"]

    @admin.action(description="Ban: deactivate the account and remove its votes")
    def ban(self, request, queryset):
        with recount_once():
            Vote.objects.filter(user__in=queryset).delete()
            banned = queryset.update(is_active=False)
            users_banned.send(sender=User, user_ids=list(queryset.values_list("pk", flat=True)))
            content_changed()  # their names leave pages cached for anonymous readers
        self.message_user(request, f"Banned {banned} users and removed their votes.", messages.SUCCESS)

    # Deleting users deletes their votes (a cascade): their papers are recounted once each.
    def delete_model(self, request, obj):
        with recount_once():
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with recount_once():
            super().delete_queryset(request, queryset)
