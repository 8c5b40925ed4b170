from django.db import models


class SourceCursor(models.Model):
    """How far a live source has been read, so that the next run resumes there."""

    source = models.CharField(max_length=100, unique=True)
    value = models.CharField(max_length=100)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.source} at {self.value}"

    @classmethod
    def get(cls, source: str) -> str | None:
        return cls.objects.filter(source=source).values_list("value", flat=True).first()

    @classmethod
    def put(cls, source: str, value: str) -> None:
        cls.objects.update_or_create(source=source, defaults={"value": value})
