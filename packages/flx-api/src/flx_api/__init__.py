"""FLX REST API: a FastAPI application over the application buses.

The composition root builds it with :func:`create_app`, passing the settings and the
coroutine function that bootstraps the process.
"""

from flx_api.app import API_PREFIX as API_PREFIX, Services as Services, create_app as create_app
from flx_api.deps import RuntimeLike as RuntimeLike
from flx_api.health import ReadinessCheck as ReadinessCheck
from flx_api.ratelimit import RateLimits as RateLimits
