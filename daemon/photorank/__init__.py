"""photorank: find a person in a photo collection from one reference photo and rank the photos.

The pipeline, one module per stage:
images (load) -> faces (detect, landmarks, embed) -> signals (measure) -> scoring -> ranking -> xmp_writer.
"""

__version__ = "0.1.0"
APP_NAME = "photorank"  # names the user config, cache, data and runtime folders
