"""The dependency types every route module shares (the values come from ``app.create_app``)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Dependency

from .service import Hub, Operator

HubDep = Annotated[Hub, Dependency(skip_validation=True)]
OperatorDep = Annotated[Operator, Dependency(skip_validation=True)]
