"""The store: its seam (`Store`) and the SQL implementation (SQLite, PostgreSQL)."""

from loop.campaign.store.base import Store, StoreError
from loop.campaign.store.sql import SqlStore

__all__ = ["SqlStore", "Store", "StoreError"]
