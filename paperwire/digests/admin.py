from django import forms
from django.contrib import admin

from paperwire.accounts.addresses import AddressField
from paperwire.digests.models import Delivery, NotificationMail, NotificationSettings, Subscriber


class SubscriberForm(forms.ModelForm):
    email = AddressField()

    class Meta:
        model = Subscriber
        fields = (
            "email",
            "frequency",
            "topics",
            "state",
            "user",
            "confirmed_at",
            "unsubscribed_at",
            "confirmation_sent_at",
            "bounces",
            "bouncing",
        )


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    list_display = ("email", "frequency", "state", "bounces", "bouncing", "created_at")
    list_filter = ("state", "frequency", "bouncing")
    search_fields = ("email",)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("period", "subscriber", "state", "attempts", "sent_at", "last_error")
    list_filter = ("state", "period")
    search_fields = ("subscriber__email", "period")
    raw_id_fields = ("subscriber",)


@admin.register(NotificationMail)
class NotificationMailAdmin(admin.ModelAdmin):
    list_display = ("user", "number", "state", "attempts", "email", "sent_at", "last_error")
    list_filter = ("state",)
    search_fields = ("user__username", "email")
    raw_id_fields = ("user",)


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(admin.ModelAdmin):
    list_display = ("user", "replies", "paper_comments", "changed_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
