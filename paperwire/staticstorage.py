"""Static files with content-hashed, precompressed names, so that browsers keep them for a year."""

from urllib.parse import urljoin

from django.utils.encoding import filepath_to_uri
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """`paperwire serve` runs `collectstatic` first: pages then link `paperwire.<hash>.css`, which
    WhiteNoise serves gzip-compressed with `Cache-Control: immutable`. Before any
    `collectstatic` (tests, a shell), links keep the plain name, served from the package."""

    def url(self, name, force=False):
        try:
            return super().url(name, force)
        except ValueError:  # no manifest entry: not collected yet
            return urljoin(self.base_url, filepath_to_uri(name))
