"""Pages of partners and reps (filled in by the payee pages)."""

from fastapi import APIRouter

router = APIRouter()
