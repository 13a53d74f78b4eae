"""``importFile``: a regional admin loads a CSV or XLSX file of organizations, educators, network
memberships or municipalities and gets the line report ``setka import`` prints.

The rows go through :mod:`..importing` (the same reader, mapping, rules and chunked transactions
as the command line), limited to the caller's region: a row about another region is refused with
its line, the others are applied. A dry run checks every row and writes nothing. A real import is
recorded in the audit trail once it ends, naming its ``file.imported`` event with the kind and
the rows in a few words.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from setka_contracts.registry import FileImported, ImportKind
from setka_runtime import audit, outbox
from setka_runtime.access import ALL_REGIONS, AccessDenied, Identity, Role, Target
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, audit_write, database, identity, transaction
from strawberry.types import Info

from ..importing.apply import EVERY_REGION, RegionScope
from ..importing.engine import ImportStopped, ImportSummary, Rejection
from ..importing.uploads import DEFAULT_MAX_BYTES, decode, import_upload

SOURCE = "/setka/registry"

ImportKindChoice = strawberry.enum(
    ImportKind,
    name="ImportKind",
    description="What the rows of an imported file are",
)

KIND_WORDS = {
    ImportKind.organizations: "организации",
    ImportKind.educators: "педагоги",
    ImportKind.memberships: "участие в сетях",
    ImportKind.municipalities: "муниципальные образования",
}


@strawberry.type(description="A row of an imported file that was not applied, and why")
class RejectedRow:
    line: int = strawberry.field(description="Its line in the file (1: the first line)")
    column: str | None = strawberry.field(description="The file's header of the cell at fault, if known")
    field: str | None = strawberry.field(description="The field at fault, as the rules name it")
    code: str = strawberry.field(description="The rule that refused it (stable, e.g. OUTSIDE_REGION)")
    message: str = strawberry.field(description="Why, in Russian")
    key: str | None = strawberry.field(description="What identifies the row (ИНН, код ОО, …)")

    @classmethod
    def of(cls, rejection: Rejection) -> RejectedRow:
        return cls(
            line=rejection.line,
            column=rejection.column,
            field=rejection.field,
            code=rejection.code,
            message=rejection.reason,
            key=rejection.key,
        )


@strawberry.type(description="What an import did (or, in a dry run, would do) with each row")
class ImportReport:
    kind: ImportKindChoice  # type: ignore[valid-type]
    file_name: str
    dry_run: bool = strawberry.field(description="Nothing was written: what an import would do")
    rows_read: int = strawberry.field(description="Data rows read (the header and blank lines aside)")
    accepted: int = strawberry.field(description="Rows applied (created, updated or unchanged)")
    created: int
    updated: int
    unchanged: int
    rejected: int
    rejected_rows: list[RejectedRow] = strawberry.field(description="Each refused row, by line")
    ignored_columns: list[str] = strawberry.field(description="Columns of the file no field reads")
    stopped_after_line: int | None = strawberry.field(
        description="The import stopped part-way (the service failed): rows up to this line are in, "
        "nothing after it; sending the same file again finishes it"
    )
    limited_to_region: str | None = strawberry.field(
        description="The region the rows were limited to (the caller's); none: every region"
    )

    @classmethod
    def of(
        cls, summary: ImportSummary, file_name: str, region_code: str | None, *, stopped: bool = False
    ) -> ImportReport:
        accepted = summary.created + summary.updated + summary.unchanged
        return cls(
            kind=summary.kind,
            file_name=file_name,
            dry_run=summary.dry_run,
            rows_read=summary.read,
            accepted=accepted,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
            rejected=summary.rejected,
            rejected_rows=[RejectedRow.of(r) for r in summary.rejections],
            ignored_columns=list(summary.ignored_columns),
            stopped_after_line=summary.committed_through_line if stopped else None,
            limited_to_region=region_code,
        )


ImportFileResult = Annotated[ImportReport | ValidationError, strawberry.union("ImportFileResult")]


def importing_scope(caller: Identity) -> RegionScope:
    """Whose rows the caller may import: a regional admin's region, every region for an admin
    of all; :class:`AccessDenied` for anyone else."""
    if not caller.authenticated:
        raise AccessDenied("Sign in to run importFile", code="UNAUTHENTICATED")
    if Role.regional_admin not in caller.roles or caller.region_code is None:
        raise AccessDenied("importFile is for regional admins")
    return EVERY_REGION if caller.region_code == ALL_REGIONS else RegionScope(caller.region_code)


def note(summary: ImportSummary) -> str:
    """The import in a few words, for the audit trail."""
    accepted = summary.created + summary.updated + summary.unchanged
    return (
        f"{KIND_WORDS[summary.kind]}: прочитано строк {summary.read}, принято {accepted}"
        f" (новых {summary.created}, изменено {summary.updated}), отклонено {summary.rejected}"
    )


async def record_import(info: Info, caller: Identity, scope: RegionScope, summary: ImportSummary) -> None:
    """The import's ``file.imported`` event and its audit entry, in one transaction."""
    async with transaction(info) as session:
        await outbox.record(
            session,
            FileImported(
                import_id=uuid.uuid4(),
                kind=summary.kind,
                region_code=scope.region_code,
                rows_read=summary.read,
                created=summary.created,
                updated=summary.updated,
                unchanged=summary.unchanged,
                rejected=summary.rejected,
                imported_at=datetime.now(UTC),
            ),
            source=SOURCE,
        )
        await audit_write(
            info,
            session,
            caller,
            Target.of(region_code=scope.region_code),
            notes={FileImported.event_type: note(summary)},
        )


@strawberry.type
class ImportMutation:
    @strawberry.federation.mutation(
        requires_scopes=[[Role.regional_admin.value]],
        description="Import a CSV (UTF-8 or cp1251, ';' or ',') or XLSX file of organizations, "
        "educators, network memberships or municipalities; answers the line report: rows read, "
        "applied, and each refused row with its line, column, code and reason. A regional admin's "
        "rows about another region are refused, each with its line; an admin of every region may "
        "import any. dryRun: check every row and write nothing. Audited with the kind and the rows; "
        "emits file.imported and each applied row's own event",
    )
    async def import_file(
        self,
        info: Info,
        kind: ImportKindChoice,  # type: ignore[valid-type]
        file_name: Annotated[str, strawberry.argument(description="The file's name: .csv or .xlsx")],
        content_base64: Annotated[
            str, strawberry.argument(description="The file's bytes, base64-encoded (the limit is decoded)")
        ],
        dry_run: bool = False,
    ) -> ImportFileResult:
        caller = identity(info)
        scope = importing_scope(caller)
        name = file_name.strip()[:255] or "файл"
        try:
            data = decode(content_base64, limit=info.context.get("import_max_bytes", DEFAULT_MAX_BYTES))
            with audit.acting_as(caller.subject or "", caller.scopes):  # each chunk's entry names the person
                summary = await import_upload(
                    database(info),
                    ImportKind(kind),
                    name,
                    data,
                    scope=scope,
                    dry_run=dry_run,
                    snils_key=info.context.get("snils_key"),
                )
        except DomainError as error:
            return ValidationError.of(error)
        except ImportStopped as stopped:
            if not dry_run:
                await record_import(info, caller, scope, stopped.summary)
            return ImportReport.of(stopped.summary, name, scope.region_code, stopped=True)
        if not dry_run:
            await record_import(info, caller, scope, summary)
        return ImportReport.of(summary, name, scope.region_code)
