"""Where the index lives on disk: segments per note file, the manifest naming the live ones, the lock.

The index folder is the one source of truth for what queries read (`store.store`); in server mode
the live build is also mirrored into a Chroma server (`store.mirror`). See `docs/decisions/` for why.
"""

from assistant.store.manifest import Manifest
from assistant.store.segments import Segment, SegmentData, SegmentError
from assistant.store.store import Health, IndexStore, LoadedIndex, SegmentedRows

__all__ = ["Health", "IndexStore", "LoadedIndex", "Manifest", "Segment", "SegmentData", "SegmentError", "SegmentedRows"]
