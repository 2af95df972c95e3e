"""In-memory adapters of the core ports, for unit tests of handlers in any package."""

from flx_core.testing.fakes import (
    FakeClock as FakeClock,
    InMemoryUnitOfWork as InMemoryUnitOfWork,
    InMemoryWorld as InMemoryWorld,
)
