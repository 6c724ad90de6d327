"""Study mode: practice questions checked against the notes."""
