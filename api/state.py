"""What one API process holds for its lifetime: the engine, the session factory, signing
keys, the token validator, the personal-data cipher, the document store, the query cost
buckets, the job queue (where units of work send their jobs after commit) and the listener of
committed events (what subscriptions wait on)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.cost import BucketStore
from domain.events.listener import EventListener
from domain.kernel.crypto import PersonalDataCipher
from domain.kernel.storage import DocumentStorage
from domain.persistence.after_commit import JobQueue, NoJobQueue
from lendgraph.settings import Settings
from tenants.keys import SigningKeys
from tenants.tokens import AccessTokenValidator


@dataclass
class AppState:
    """Process-wide resources, built once at start-up."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    keys: SigningKeys
    validator: AccessTokenValidator
    cipher: PersonalDataCipher
    storage: DocumentStorage
    buckets: BucketStore
    jobs: JobQueue = field(default_factory=NoJobQueue)
    #: The process's ``LISTEN`` connection, started by the application's lifespan (None until
    #: then, and in a process that serves no subscriptions).
    events: EventListener | None = None
