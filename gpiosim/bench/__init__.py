"""``gpiosim bench``: one module per section, the peers it compares with, the table.

Run by the ``gpiosim bench`` command (also ``python -m gpiosim.bench``); ``python -m
gpiosim.bench._driver`` runs the bench's own helper processes.
"""

__all__: list[str] = []
