"""The fleet at run time: instances, echelon targets, polling pools, rotation and health."""
