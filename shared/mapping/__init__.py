"""The mapping language (model), its transforms and their application to one record."""
