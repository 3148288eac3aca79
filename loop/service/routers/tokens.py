"""Tokens: who am I. Tokens are made and revoked with `loopwell token` on the server's host."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from loop.service.dependencies import current_token
from loop.service.schemas import WhoAmI
from loop.service.tables import Token

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("/me", response_model=WhoAmI)
def whoami(token: Annotated[Token, Depends(current_token)]) -> WhoAmI:
    """The caller's token: its name, role and (for a lab) campaigns."""
    return WhoAmI(name=token.name, role=str(token.role),
                  campaigns=list(token.campaigns) if token.campaigns is not None else None)
