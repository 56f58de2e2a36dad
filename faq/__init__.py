"""FAQ and quiz content edited by admins; this package only locates it."""

from pathlib import Path

CONTENT_DIR: Path = Path(__file__).resolve().parent
