"""How results look in a terminal (rich), shared by the command groups and the main job."""
