"""Finding and reading the student's notes: which files count, how they are decoded, what is skipped."""
