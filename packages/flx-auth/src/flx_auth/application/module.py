"""The auth application module; handlers register on it from their own modules."""

from flx_core.application import ApplicationModule

module = ApplicationModule("auth", depends_on=("core",))
