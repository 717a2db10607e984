"""Settings: the model, the TOML file (load, validate, save) and file locations.

No Textual imports here: the CLI and the UI share this module.

Typical use::

    result = load_settings(config_path(args.config), overrides={"api.url": args.url})
    for warning in result.warnings: ...
    save_settings(dataclasses.replace(result.settings, ui=...), result.path)

Every value, from the file, the environment, a flag or the settings form, is
made typed by ``coerce(key, raw)``: one rule, and one wording of its problems.
"""

from .coerce import coerce
from .lines import find_line
from .load import ENV_OVERRIDES, LoadResult, load_settings
from .model import (
    ENGINES,
    ApiSettings,
    Aria2Settings,
    DownloadSettings,
    NotifySettings,
    Override,
    RefreshSettings,
    SettingField,
    Settings,
    SettingsError,
    UiSettings,
    UnlockSettings,
    WarningSettings,
    setting_fields,
)
from .password import resolve_aria2_secret, resolve_password
from .paths import CONFIG_ENV, cache_dir, config_path, data_dir, download_dir, state_dir
from .save import save_settings
from .validate import keymap_warnings, settings_from_dict, settings_to_dict, validate

__all__ = [
    "CONFIG_ENV",
    "ENGINES",
    "ENV_OVERRIDES",
    "ApiSettings",
    "Aria2Settings",
    "DownloadSettings",
    "LoadResult",
    "NotifySettings",
    "Override",
    "RefreshSettings",
    "SettingField",
    "Settings",
    "SettingsError",
    "UiSettings",
    "UnlockSettings",
    "WarningSettings",
    "cache_dir",
    "coerce",
    "config_path",
    "data_dir",
    "download_dir",
    "find_line",
    "keymap_warnings",
    "load_settings",
    "resolve_aria2_secret",
    "resolve_password",
    "save_settings",
    "setting_fields",
    "settings_from_dict",
    "settings_to_dict",
    "state_dir",
    "validate",
]
