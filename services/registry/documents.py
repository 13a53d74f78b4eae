"""Documents of the registry: the text of an agreement and of its amendments (дополнительные
соглашения), the text of each edition of a regulating document (положение, приказ). The rules of
files and their storage are :mod:`setka_runtime.documents`; here are the owners.

Who sees them: a regulating document is public (it is published), so are its files, to anonymous
callers too; an agreement's text carries signatures and details its listing does not, so its files
and its amendments' are for the people of the region, municipality or organization of one of its
parties or of its network. Who attaches them: the editors who may amend the agreement or revise
the document.
"""

from __future__ import annotations

import uuid

from setka_contracts.registry import RegistryDocumentAttached
from setka_runtime.access import Identity
from setka_runtime.documents import Attachments, OwnerKind, anyone, sees_any, store_from_settings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import scopes
from .models import Agreement, AgreementAmendment, Document, Regulation
from .settings import RegistrySettings


async def _exists(session: AsyncSession, model: type, ident: uuid.UUID) -> bool:
    return await session.get(model, ident) is not None


async def _agreement_visible(session: AsyncSession, caller: Identity, ident: uuid.UUID) -> bool:
    return sees_any(caller, await scopes.agreement_places(session, ident))


async def _amendment_visible(session: AsyncSession, caller: Identity, ident: uuid.UUID) -> bool:
    agreement_id = await session.scalar(
        select(AgreementAmendment.agreement_id).where(AgreementAmendment.id == ident)
    )
    return agreement_id is not None and await _agreement_visible(session, caller, agreement_id)


OWNERS: dict[str, OwnerKind] = {
    "agreement": OwnerKind(
        exists=lambda s, i: _exists(s, Agreement, i),
        scope=scopes.agreement,
        visible=_agreement_visible,
        missing="Такого договора нет",
    ),
    "agreement_amendment": OwnerKind(
        exists=lambda s, i: _exists(s, AgreementAmendment, i),
        scope=scopes.amendment,
        visible=_amendment_visible,
        missing="Такого дополнительного соглашения нет",
    ),
    "regulation": OwnerKind(
        exists=lambda s, i: _exists(s, Regulation, i),
        scope=scopes.regulation,
        visible=anyone,
        missing="Такого документа нет",
    ),
}


def attachments(settings: RegistrySettings) -> Attachments:
    return Attachments(
        service=settings.service_name,
        model=Document,
        owners=OWNERS,
        store=store_from_settings(settings),
        event=RegistryDocumentAttached,
        max_bytes=settings.documents_max_bytes,
    )
