import pytest

from flx_core.config import SettingsError, load_settings


def test_defaults_and_seed_aliases(flx_home, monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.database_url is None and s.is_embedded
    assert s.home_path == flx_home.resolve()
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db:5432/flx")
    monkeypatch.setenv("PLUGIN_WATCH_DIRECTORY", "/srv/plugins")
    s = load_settings()
    assert not s.is_embedded
    assert str(s.plugin_watch_directory) == "/srv/plugins"


def test_flx_prefix_wins_and_env_file_is_read(flx_home, tmp_path, monkeypatch) -> None:
    (tmp_path / ".env").write_text("FLX_HEARTBEAT_SECONDS=9\n")
    assert load_settings().heartbeat_seconds == 9


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("FLX_HEARTBEAT_SECONDS", "often", "invalid setting FLX_HEARTBEAT_SECONDS"),
        ("FLX_STATE_BACKEND", "s3", "invalid setting FLX_STATE_BACKEND"),
        ("DATABASE_URL", "mysql://x", "invalid setting DATABASE_URL: must be a sqlite"),
        ("FLX_BCRYPT_ROUNDS", "2", "invalid setting FLX_BCRYPT_ROUNDS"),
    ],
)
def test_bad_value_names_the_variable(flx_home, monkeypatch, var, value, needle) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value).startswith(needle)
    assert "\n" not in str(info.value)


def test_masked_hides_secrets(flx_home, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/flx")
    monkeypatch.setenv("FLX_ADMIN_PASSWORD", "s3cret-password")
    masked = load_settings().masked()
    text = repr(masked)
    assert "hunter2" not in text and "s3cret-password" not in text
    assert masked["database_url"] == "postgresql://u:********@db/flx"
    assert masked["admin_password"] == "********"
