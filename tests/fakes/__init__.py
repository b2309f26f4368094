"""In-process fakes of the providers, used to write the cassettes the adapter tests replay."""
