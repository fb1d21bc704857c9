"""The dependency types every route module shares (the values come from ``app.create_app``)."""

from __future__ import annotations

from litestar.params import SkipValidation

from .service import Hub, Operator

# provided by the app, never parsed from a request: nothing to validate
HubDep = SkipValidation[Hub]
OperatorDep = SkipValidation[Operator]
