"""FLX web dashboard: Django, server-rendered, over the application buses.

The composition root mounts :func:`create_web_app` beside the API, passing the settings
and a callable that returns the process's runtime; the pages send messages on its bus as
the signed-in user, as the API's routes do.
"""

from flx_web.asgi import WebApp as WebApp, create_web_app as create_web_app
from flx_web.runtime import RuntimeLike as RuntimeLike, RuntimeSource as RuntimeSource
