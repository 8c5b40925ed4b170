"""Moderation of discussions in the admin: the queue of open reports, and comments hidden or shown
again. Every change goes through paperwire/discussions/threads.py, which keeps the papers'
counts and the pages' content version in step: the forms here change nothing by themselves
(comments and reports are read-only). Hiding is the way to take a comment down (it can be shown
again); deleting one here removes it and its replies for good, and recounts too. Banning a user
is on the user's page (papers/admin.py); it also withdraws their comment votes."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from paperwire.discussions.models import Comment, CommentReport
from paperwire.discussions.threads import delete_for_good, resolve_reports, set_hidden


def excerpt(comment: Comment) -> str:
    if comment.deleted_at:
        return "(deleted by its author)"
    return Truncator(" ".join(comment.body.split())).chars(100)


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("visible", "visible"), ("hidden", "hidden by a moderator"), ("deleted", "deleted by its author")]

    def queryset(self, request, queryset):
        if self.value() == "visible":
            return queryset.filter(hidden=False, deleted_at__isnull=True)
        if self.value() == "hidden":
            return queryset.filter(hidden=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class ReadOnly:
    """Moderators act through the actions, never by editing a row."""

    def has_add_permission(self, request) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        hidden = set(self.exclude or ())  # not shown at all (a comment's HTML: shown rendered instead)
        return [f.name for f in self.model._meta.fields if f.name not in hidden] + list(self.extra_readonly)


def plural(n: int) -> str:
    return "" if n == 1 else "s"


@admin.register(Comment)
class CommentAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "text", "paper", "author", "created_at", "upvotes", "state", "open_reports")
    list_filter = (StateFilter,)
    search_fields = ("body", "author__username", "paper__id")
    list_select_related = ("author", "paper")
    date_hierarchy = "created_at"
    actions = ["hide", "unhide"]
    extra_readonly = ("rendered", "on_the_site")
    exclude = ("html",)

    def get_queryset(self, request):
        open_reports = Count("reports", filter=Q(reports__resolved_at__isnull=True))
        return super().get_queryset(request).annotate(open_report_count=open_reports)

    @admin.display(description="comment")
    def text(self, comment: Comment) -> str:
        return excerpt(comment)

    @admin.display(description="state")
    def state(self, comment: Comment) -> str:
        return "deleted" if comment.deleted_at else "hidden" if comment.hidden else "visible"

    @admin.display(description="open reports", ordering="open_report_count")
    def open_reports(self, comment: Comment) -> int:
        return comment.open_report_count

    @admin.display(description="as shown")
    def rendered(self, comment: Comment) -> str:
        return mark_safe(f'<div class="comment-body">{comment.html}</div>')  # sanitised when it was made

    @admin.display(description="on the site")
    def on_the_site(self, comment: Comment) -> str:
        url = f"{comment.paper.get_absolute_url()}#{comment.anchor}"
        return format_html('<a href="{}">{}</a>', url, url)

    def delete_model(self, request, obj):
        delete_for_good([obj.pk])

    def delete_queryset(self, request, queryset):
        delete_for_good(queryset.values_list("pk", flat=True))

    @admin.action(description="Hide the selected comments (their open reports are resolved)")
    def hide(self, request, queryset):
        changed = set_hidden(queryset.values_list("pk", flat=True), True, request.user)
        self.message_user(request, f"Hid {changed} comments.", messages.SUCCESS)

    @admin.action(description="Show the selected comments again")
    def unhide(self, request, queryset):
        changed = set_hidden(queryset.values_list("pk", flat=True), False, request.user)
        self.message_user(request, f"Showed {changed} comments again.", messages.SUCCESS)


class ReportStatusFilter(admin.SimpleListFilter):
    """Open reports first: the moderation queue is what the list shows until asked for more."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("resolved", "resolved"), ("all", "all")]

    def value(self):
        return super().value() or "open"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(CommentReport)
class CommentReportAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("created_at", "reason", "reported_comment", "comment_author", "reporter", "details", "status")
    list_filter = (ReportStatusFilter, "reason")
    list_select_related = ("comment", "comment__author", "reporter")
    search_fields = ("comment__body", "comment__author__username", "reporter__username", "details")
    ordering = ("created_at",)
    actions = ["hide_comments", "keep_comments"]
    extra_readonly = ("reported_text",)

    @admin.display(description="comment")
    def reported_comment(self, report: CommentReport) -> str:
        url = reverse("admin:discussions_comment_change", args=[report.comment_id])
        return format_html('<a href="{}">{}</a>', url, excerpt(report.comment))

    @admin.display(description="reported text")
    def reported_text(self, report: CommentReport) -> str:
        return mark_safe(f'<div class="comment-body">{report.comment.html}</div>')  # sanitised when it was made

    @admin.display(description="author")
    def comment_author(self, report: CommentReport) -> str:
        return str(report.comment.author or "deleted account")

    @admin.display(description="status")
    def status(self, report: CommentReport) -> str:
        return report.get_resolution_display() if report.resolved_at else "open"

    @admin.action(description="Hide the reported comments and resolve their reports")
    def hide_comments(self, request, queryset):
        resolved, hidden = resolve_reports(queryset.values_list("pk", flat=True), request.user, hide=True)
        self.message_user(
            request,
            f"Hid {hidden} comment{plural(hidden)}; resolved {resolved} report{plural(resolved)}.",
            messages.SUCCESS,
        )

    @admin.action(description="Keep the reported comments and resolve their reports")
    def keep_comments(self, request, queryset):
        resolved, _ = resolve_reports(queryset.values_list("pk", flat=True), request.user, hide=False)
        self.message_user(
            request, f"Kept the comments; resolved {resolved} report{plural(resolved)}.", messages.SUCCESS
        )
