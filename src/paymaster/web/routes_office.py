"""Pages of the program office (filled in by the office pages)."""

from fastapi import APIRouter

router = APIRouter()
