"""The ``loss-threshold`` membership attack (see :mod:`.attack`)."""
