from django.contrib import admin

from paperwire.digests.models import Delivery, Subscriber


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "frequency", "state", "bounces", "bouncing", "created_at")
    list_filter = ("state", "frequency", "bouncing")
    search_fields = ("email",)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("period", "subscriber", "state", "attempts", "sent_at", "last_error")
    list_filter = ("state", "period")
    search_fields = ("subscriber__email", "period")
    raw_id_fields = ("subscriber",)
