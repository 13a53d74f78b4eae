"""The effectiveness analysis' enumerations as GraphQL knows them, declared once for every module
of the subgraph that names them (:mod:`.schema`, :mod:`.target_schema`)."""

from __future__ import annotations

import strawberry

from . import analysis_model as am

strawberry.enum(am.ScopeKind, description="What is analysed: one school, network, municipality or region")
strawberry.enum(am.Better, description="Which direction of an indicator is better")
strawberry.enum(am.Trend, description="How an indicator moved since the previous period")
strawberry.enum(
    am.Status,
    description="How an indicator stands against the target its region or network set: good (at or past it), "
    "attention (short of it but improving, or steady), bad (short and worsening), no_target (nobody set one: "
    "only its trend is shown), no_data (nothing to compute it from)",
)
strawberry.enum(
    am.YearKind, description="The year a target is for: a calendar year, or a school year (September–August)"
)
