"""Settings of every FLX process."""

from flx_core.config.domain_config import (
    FlxSettings as FlxSettings,
    SettingsError as SettingsError,
    load_settings as load_settings,
    mask_url as mask_url,
)
