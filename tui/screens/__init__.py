"""The dashboard's screens: dashboard, settings, item detail, help."""
