"""The camera registry: districts, areas and cameras (models, import/export, queries)."""
