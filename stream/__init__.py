"""Live runtime."""
