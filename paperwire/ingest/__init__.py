"""Ingest: papers from outside (import files, Hugging Face's daily lists, arXiv) into the
database. Its public interface is this package's names below; the floors above import only
these, never its modules (tests/test_architecture.py checks it).
"""

from __future__ import annotations

from paperwire.core.interface import public_names

PUBLIC = {
    # Files: `paperwire import`.
    "import_files": "importer",
    "ReadingFailed": "reading",
    "FORMATS": "formats",
    # Outside sources: `paperwire ingest`.
    "hf_daily": "sources",
    "hf_daily_resume_days": "sources",
    "arxiv_listing": "sources",
    "arxiv_resume_since": "sources",
    "days_between": "sources",
    # Submissions: the form's and the worker's.
    "submit_paper": "submissions",
    "complete_pending_submissions": "submissions",
}
__all__ = sorted(PUBLIC)

__getattr__ = public_names(__name__, PUBLIC)
