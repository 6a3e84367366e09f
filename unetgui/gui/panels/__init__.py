"""Dock panels, one widget per file; each talks to the window through signals."""
