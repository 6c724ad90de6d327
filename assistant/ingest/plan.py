"""What an ingest has to do, decided before anything heavy is imported: nothing, repair, or build.

Kept apart from `pipeline` so a no-op ingest (the common case: every `assistant` call checks) costs
a manifest read and a health check, not the pipeline's imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.errors import IndexCorruptError
from assistant.sources.notes import NoteFile
from assistant.store import Health, IndexStore, Manifest


@dataclass
class Plan:
    """The state an ingest starts from.

    Attributes:
        old: The live build's manifest (None: none, or unreadable).
        health: What is damaged in the live build (empty on a rebuild).
        repaired: Problems the build will repair, as one line each.
        retire: Chroma collections the build retires (server mode), named by mirror id.
        noop: Nothing to build: the live build matches the notes and the build settings.
    """

    old: Manifest | None
    health: Health
    repaired: list[str] = field(default_factory=list)
    retire: list[str] = field(default_factory=list)
    noop: bool = False


def plan(store: IndexStore, notes: Sequence[NoteFile], build: dict, rebuild: bool, server: bool) -> Plan:
    """Compare the live build with the notes and settings (the writer lock is held).

    Args:
        store: The index store.
        notes: The notes as read now.
        build: The build settings the index must have (model, chunker, segment format).
        rebuild: Re-embed everything (a new mirror id in server mode).
        server: The index is mirrored into a Chroma server.
    """
    repaired: list[str] = []
    retire: list[str | None] = []
    try:
        old = store.read_manifest()
    except IndexCorruptError as exc:
        old = None
        repaired.append(str(exc).split(". Run `")[0])  # what to run is the caller's to say
        retire.append(store.legacy_collection())
    health = store.health(old) if old is not None and not rebuild else Health()
    repaired += health.problems()
    if rebuild and server:
        previous = store.mirror_id()
        store.new_mirror_id()
        retire.append(previous)
    noop = (not rebuild and old is not None and not repaired and not retire and old.build == build
            and old.digests() == {n.source: n.digest for n in notes})
    return Plan(old, health, repaired, [r for r in retire if r], noop)
