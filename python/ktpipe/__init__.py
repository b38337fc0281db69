"""ktpipe: knowledge-tuning datasets from your documents with a teacher model.

The package carries ktpipe's tools as executables and its recipes; the `ktpipe` command
(`ktpipe.cli`) runs the recipes from any folder.
"""
