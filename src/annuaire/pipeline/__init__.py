"""The build: read → clean → de-duplicate → load, with a report of everything that happened."""
