"""The main job (``slipway demo``): the whole loop on the embedded default, with no cloud."""
