"""Privacy and utility metrics of protected images."""
