"""The scheduler: cron fire times in a pipeline's timezone, the fire records that keep
several schedulers from firing a time twice, and the loop of `flx scheduler`."""
