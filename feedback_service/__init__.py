"""The feedback service of the handbook: comments, corrections, moderation, sync."""
