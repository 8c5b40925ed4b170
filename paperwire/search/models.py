from django.db import models

from paperwire.papers.models import Paper


class PaperVector(models.Model):
    """A paper's embedding, kept in the database so that indexes can be rebuilt without the model.

    ``id`` is the key of the paper in the vector index file. ``text_hash`` identifies the text
    that was embedded: a paper whose title and abstract did not change is never embedded twice.
    """

    paper = models.OneToOneField(Paper, on_delete=models.CASCADE, related_name="vector")
    model = models.CharField(max_length=100)
    text_hash = models.CharField(max_length=32)
    vector = models.BinaryField(help_text="float16, little-endian, unit length")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"vector of {self.paper_id}"
