"""A folder an Android app drops into ``app/src/main/assets/``."""

from alexedge.android_assets.bundle import AndroidBundle, write_android_assets

__all__ = ["AndroidBundle", "write_android_assets"]
