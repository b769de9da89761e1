"""Models that exist only in the test database, to exercise shared machinery."""
