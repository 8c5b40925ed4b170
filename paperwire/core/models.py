"""The tables every floor shares: the rate-limit counters (paperwire/core/limits.py)."""

from django.db import models


class RateCounter(models.Model):
    """Hits of one client on one kind of request in one time window; shared by every process."""

    bucket = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="Unix time the window began")
    hits = models.IntegerField(default=0)

    class Meta:
        db_table = "api_ratecounter"  # its name from when the api app held it
        constraints = [models.UniqueConstraint(fields=["bucket", "window_start"], name="one_counter_per_window")]
        indexes = [models.Index(fields=["window_start"], name="ratecounter_window")]

    def __str__(self) -> str:
        return f"{self.bucket} @ {self.window_start}: {self.hits}"
