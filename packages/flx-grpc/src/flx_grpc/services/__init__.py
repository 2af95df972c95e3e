"""One servicer per service of ``protos/flx/v1``, each over the application's bus."""
