import os

from django.core.wsgi import get_wsgi_application

from paperwire.core.private import restrict_new_files

restrict_new_files()  # also when a WSGI server other than `paperwire serve` loads this
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperwire.settings")
application = get_wsgi_application()
