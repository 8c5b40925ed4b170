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
    # The paper's updated_at, read with the text that was embedded: the vector is of the paper's
    # present text while the two are equal. Not ``updated_at`` (when the vector was stored): an
    # edit stamped before a store but committed after it would look older than the vector, and
    # its text would never be embedded.
    source_updated_at = models.DateTimeField(null=True)

    class Meta:
        # So that an update costs what changed, not the corpus: the models present are read by a
        # loose scan of ``model`` (claims.stored_models), the vectors stored since the last update
        # (by any machine) by a range of ``updated_at`` (updating.stored_papers). Indexes rather
        # than db_index: SQLite adds an index with CREATE INDEX, but alters a field by copying
        # the whole table.
        indexes = [
            models.Index(fields=["model"], name="vector_model"),
            models.Index(fields=["updated_at"], name="vector_stored_at"),
        ]

    def __str__(self) -> str:
        return f"vector of {self.paper_id}"


class EmbeddingClaim(models.Model):
    """A paper being embedded by one worker: the rows sharing a ``token`` are the batch it claimed.

    Any number of processes, on any number of machines sharing the database, embed the papers
    that need it without embedding one twice (paperwire/search/claims.py). A claim lives until
    ``expires_at`` (the worker renews it while it embeds) or until its worker stores the vectors
    and deletes it; a claim that expired, or whose process is gone from this very machine
    (``node`` and ``machine`` the same, ``pid`` not running), is taken over by another worker.
    """

    paper = models.OneToOneField(Paper, on_delete=models.CASCADE, primary_key=True, related_name="embedding_claim")
    token = models.CharField(max_length=32, db_index=True, help_text="the batch: random, one per claim")
    node = models.CharField(max_length=100, help_text="PAPERWIRE_NODE_NAME of the worker (its host name)")
    machine = models.CharField(max_length=80, help_text="boot and process namespace: where its pid means anything")
    pid = models.PositiveIntegerField()
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.paper_id} claimed by {self.node} pid {self.pid}"
