"""An app whose import fails."""

raise RuntimeError("this app cannot start: missing DATABASE_URL")
