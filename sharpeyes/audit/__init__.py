"""The coverage and connection audit (DESIGN.md §6): build one report model, render it in several formats."""
