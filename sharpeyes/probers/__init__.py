"""Probers: one file per protocol, one signature (see base.py)."""
