"""enrollctl: the command line of speaker-enrollment."""
