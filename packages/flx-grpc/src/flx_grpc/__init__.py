"""FLX gRPC API: services over the application buses, interceptors, and a client."""
