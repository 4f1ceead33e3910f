"""The ``lira`` membership attack (see :mod:`.attack`)."""
