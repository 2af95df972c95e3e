"""FLX web dashboard: Django, server-rendered, over the application buses."""
