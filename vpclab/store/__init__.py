"""The durable store of desired state (and of facts the data plane observed)."""
from .base import Resource, Store, Transaction, UnknownKind, resource
from .sqlite import SqlitePersistence, open_store

__all__ = ["Resource", "Store", "Transaction", "UnknownKind", "resource", "SqlitePersistence", "open_store"]
