"""Where data comes from: reading and downloading source files. I/O lives here."""
